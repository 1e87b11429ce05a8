"""Tests for fcast.core.space: expanding space files into the hp dimension and back into models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from fcast.core.models import Model
from fcast.core.space import (
    BUILTIN,
    SpaceSpec,
    builtin_space,
    builtin_spaces,
    default_space,
    expand,
    load_space,
    models_of,
    parse_space,
    space_filling,
    to_dataset,
)
from fcast.errors import ConfigError

SPACES = Path(__file__).resolve().parents[2] / "fcast" / "spaces"

FULL = {
    "preprocess": {"log": [False, True], "window": [None, 104]},
    "families": {
        "ets": {"spec": ["ANN", "AAN", "AAdN"]},
        "theta": {"variant": ["standard", "optimized"]},
        "arima": {"p": [1, 2], "d": [1], "q": [0, 1]},
        "seasonal_naive": {},
    },
}
FILLING_SPACE = {
    "preprocess": {"log": [False, True]},
    "families": {
        "ets": {"spec": ["ANN", "AAdN"]},
        "theta": {"variant": ["standard", "optimized"]},
        "seasonal_naive": {},
    },
}
# (3 ets + 2 theta + 2*1*2 arima + 1 seasonal_naive) families x (2 log x 2 window) preprocess
FULL_SIZE = (3 + 2 + 4 + 1) * 4


@pytest.fixture(scope="module")
def hp() -> xr.Dataset:
    return parse_space(FULL, freq="W-MON", source="full.yaml")


def test_grid_size_is_product_of_family_and_preprocess_grids(hp):
    assert hp.sizes == {"hp": FULL_SIZE}
    assert hp["hp"].values.tolist() == list(range(FULL_SIZE))
    counts = {
        f: int((hp["family"] == f).sum()) for f in ("ets", "theta", "arima", "seasonal_naive")
    }
    assert counts == {"ets": 12, "theta": 8, "arima": 16, "seasonal_naive": 4}


def test_no_preprocess_grid():
    hp = parse_space({"families": {"ets": {"spec": ["ANN", "AAN"]}, "seasonal_naive": {}}}, "W-MON")
    assert hp.sizes["hp"] == 3
    assert hp["label"].values.tolist() == ["ets(ANN)", "ets(AAN)", "seasonal_naive"]


def test_scalar_grid_value_is_one_option():
    hp = parse_space({"families": {"theta": {"variant": "optimized"}}}, "W-MON")
    assert hp["variant"].values.tolist() == ["optimized"]


def test_coords_family_label_and_one_per_parameter(hp):
    expected = {
        "hp",
        "family",
        "label",
        "spec",
        "variant",
        "p",
        "d",
        "q",
        "P",
        "D",
        "Q",
        "drift",
        "log",
        "window",
    }
    assert set(hp.coords) == expected
    for name in expected - {"hp"}:
        assert hp[name].dims == ("hp",)
    is_ets = hp["family"] == "ets"
    is_arima = hp["family"] == "arima"
    # string params: "" where the family does not have them
    assert set(hp["spec"].values[is_ets.values].tolist()) == {"ANN", "AAN", "AAdN"}
    assert set(hp["spec"].values[~is_ets.values].tolist()) == {""}
    assert set(hp["variant"].values[(hp["family"] == "theta").values].tolist()) == {
        "standard",
        "optimized",
    }
    # numeric params: NaN where absent
    assert np.isnan(hp["p"].values[~is_arima.values]).all()
    assert set(hp["p"].values[is_arima.values].tolist()) == {1.0, 2.0}
    assert set(hp["P"].values[is_arima.values].tolist()) == {0.0}  # default filled in
    # preprocessing applies to all: log as 0/1, window NaN for "all history"
    assert set(hp["log"].values.tolist()) == {0.0, 1.0}
    window = hp["window"].values
    assert np.isnan(window).sum() == FULL_SIZE // 2
    assert set(window[~np.isnan(window)].tolist()) == {104.0}


def test_labels(hp):
    labels = hp["label"].values.tolist()
    assert len(set(labels)) == FULL_SIZE  # readable and unique
    assert "ets(AAdN)" in labels
    assert "ets(AAdN) log w=104" in labels
    assert "theta(optimized) log" in labels
    assert "seasonal_naive w=104" in labels


def test_space_attr_keeps_the_raw_spec(hp):
    assert yaml.safe_load(hp.attrs["space"]) == FULL


def test_models_of_round_trips_to_same_models(hp):
    models = expand(SpaceSpec.model_validate(FULL), freq="W-MON")
    rebuilt = models_of(hp, season_length=52)
    assert rebuilt == models
    assert [m.label() for m in rebuilt] == hp["label"].values.tolist()
    window_model = next(m for m in rebuilt if m.params.get("window"))
    assert window_model.params["window"] == 104 and isinstance(window_model.params["window"], int)
    assert all(isinstance(m.params["log"], bool) for m in rebuilt)


def test_models_of_any_cube_variable(hp):
    """hp coords on a variable with more dims (e.g. the error cube), sliced, rebuild the same models."""
    error = xr.DataArray(
        np.zeros((2, FULL_SIZE)), dims=("market", "hp"), coords={"market": ["A", "B"]}
    )
    error = error.assign_coords(hp.coords)
    part = error.isel(hp=slice(10, 20))
    expected = expand(SpaceSpec.model_validate(FULL), freq="W-MON")[10:20]
    assert models_of(part, season_length=52) == expected


def test_to_dataset_of_explicit_models():
    models = [
        Model.create("arima", {"p": 1, "d": 1, "q": 0, "drift": True}, 1),
        Model.create("seasonal_naive", {}, 1),
    ]
    ds = to_dataset(models)
    assert ds["family"].values.tolist() == ["arima", "seasonal_naive"]
    assert ds["drift"].values[0] == 1.0 and np.isnan(ds["drift"].values[1])
    assert models_of(ds, 1) == models


def test_random_sample_is_seeded_and_distinct():
    raw = {**FULL, "sample": {"method": "random", "n": 5, "seed": 1}}
    a = parse_space(raw, "W-MON")
    b = parse_space(raw, "W-MON")
    c = parse_space({**FULL, "sample": {"method": "random", "n": 5, "seed": 2}}, "W-MON")
    assert a.sizes["hp"] == 5
    assert len(set(a["label"].values.tolist())) == 5
    xr.testing.assert_identical(a, b)
    assert a["label"].values.tolist() != c["label"].values.tolist()
    # a subset of the full grid, kept in grid order
    full = parse_space(FULL, "W-MON")["label"].values.tolist()
    positions = [full.index(lbl) for lbl in a["label"].values.tolist()]
    assert positions == sorted(positions)


def test_random_sample_larger_than_grid_keeps_everything():
    raw = {**FULL, "sample": {"method": "random", "n": 1000, "seed": 0}}
    assert parse_space(raw, "W-MON").sizes["hp"] == FULL_SIZE


# --- errors -------------------------------------------------------------------------------


ERRORS = {
    "unknown_family": (
        {"families": {"nbeats": {}}},
        "W-MON",
        ["families.nbeats", "unknown family", "ets"],
    ),
    "unknown_param": (
        {"families": {"ets": {"spec": ["ANN"], "alpha": [0.1]}}},
        "W-MON",
        ["families.ets", "'alpha'"],
    ),
    "unknown_preprocess": (
        {"preprocess": {"box_cox": [True]}, "families": {"seasonal_naive": {}}},
        "W-MON",
        ["preprocess.box_cox", "unknown"],
    ),
    "seasonal_ets_weekly": (
        {"families": {"ets": {"spec": ["ANN", "AAA"]}}},
        "W-MON",
        ["families.ets", "'AAA'", "52"],
    ),
    "holt_winters_weekly": (
        {"families": {"holt_winters": {}}},
        "W-MON",
        ["families.holt_winters", "52"],
    ),
    "bad_theta_variant": (
        {"families": {"theta": {"variant": ["fancy"]}}},
        "W-MON",
        ["families.theta", "'fancy'"],
    ),
    "bad_ets_spec": ({"families": {"ets": {"spec": ["XYZ"]}}}, "W-MON", ["families.ets", "'XYZ'"]),
    "empty_families": ({"families": {}}, "W-MON", ["families", "no models"]),
    "unknown_top_key": (
        {"families": {"seasonal_naive": {}}, "grid": {}},
        "W-MON",
        ["grid", "unknown key"],
    ),
    "bad_sample_method": (
        {"families": {"seasonal_naive": {}}, "sample": {"method": "bayes"}},
        "W-MON",
        ["sample.method"],
    ),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_invalid_space_names_source_and_key(case):
    raw, freq, expected = ERRORS[case]
    with pytest.raises(ConfigError) as info:
        parse_space(raw, freq=freq, source=f"{case}.yaml")
    msg = str(info.value)
    assert f"{case}.yaml" in msg
    assert "invalid space" in msg
    for text in expected:
        assert text in msg, f"{text!r} not in {msg!r}"


def test_seasonal_ets_and_holt_winters_fine_for_monthly():
    hp = parse_space({"families": {"ets": {"spec": ["AAA"]}, "holt_winters": {}}}, freq="MS")
    assert hp["label"].values.tolist() == ["ets(AAA)", "holt_winters"]
    assert [m.season_length for m in models_of(hp, 12)] == [12, 12]


def test_non_mapping_space():
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_space(["ets"], "W-MON", source="list.yaml")


def test_load_space_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_space(tmp_path / "absent.yaml", "W-MON")


# --- the shipped spaces ---------------------------------------------------------------------


def test_default_space_loads_for_weekly():
    hp = load_space(SPACES / "weekly.yaml", "W-MON")
    # harmonic regression on log users with every holiday group, three changepoint penalties
    assert hp.sizes["hp"] == 3
    models = models_of(hp, 52)
    assert {m.family for m in models} == {"harmonic"}
    assert [m.params["changepoint_penalty"] for m in models] == [60.0, 200.0, 600.0]
    assert all(m.uses_x and m.params["log"] and m.params["holidays"] == "all" for m in models)
    assert all(m.params["holiday_form"] == "both" and m.check() is None for m in models)


def test_classic_space_is_the_former_statsforecast_default():
    hp = load_space(SPACES / "classic.yaml", "W-MON")
    # (3 ets + 3 theta + 2 mstl + 2*1*2 arima + 1 seasonal_naive) x 2 log
    assert hp.sizes["hp"] == 26
    assert set(hp["family"].values.tolist()) == {"ets", "theta", "mstl", "arima", "seasonal_naive"}
    assert len(models_of(hp, 52)) == 26


def test_small_space_loads_for_weekly(tmp_path):
    hp = load_space(SPACES / "small.yaml", "W-MON")
    assert hp["label"].values.tolist() == [
        "ets(ANN)",
        "ets(AAdN)",
        "theta(standard)",
        "theta(optimized)",
        "seasonal_naive",
    ]
    copy = tmp_path / "small.yaml"
    copy.write_text((SPACES / "small.yaml").read_text())
    xr.testing.assert_identical(load_space(str(copy), "W-MON"), hp)


@pytest.mark.parametrize(
    ("freq", "name", "season"),
    [("D", "daily", 7), ("W-MON", "weekly", 52), ("MS", "monthly", 12), ("QS", "quarterly", 4)],
)
def test_a_builtin_default_space_per_frequency_loads_for_it(freq, name, season):
    path = default_space(freq)
    assert path == BUILTIN / f"{name}.yaml" and path.is_file()
    hp = load_space(name, freq)  # by name, as `space: monthly` in a config
    assert hp.sizes["hp"] > 1
    assert len(models_of(hp, season)) == hp.sizes["hp"]


def test_builtin_spaces_are_package_files():
    assert BUILTIN.parent.name == "fcast"
    assert {"daily", "weekly", "monthly", "quarterly", "holidays", "small"} <= set(builtin_spaces())


def test_unknown_builtin_space_and_frequency_without_default_are_clear_errors():
    with pytest.raises(
        ConfigError, match=r"unknown built-in space 'weekley'; built-in: classic, daily, "
    ):
        builtin_space("weekley")
    with pytest.raises(ConfigError, match=r"no built-in default space for data.freq 'h'"):
        default_space("h")


def test_arima_label_from_space_is_in_p_d_q_order():
    hp = parse_space({"families": {"arima": {"p": [2], "d": [1], "q": [0]}}}, "W-MON")
    direct = Model.create("arima", {"p": 2, "d": 1, "q": 0}, 52).label()
    assert direct == "arima(2,1,0)"
    assert hp["label"].values.tolist() == [direct]


def test_space_filling_is_seeded_and_covers_the_families():
    hp = parse_space(FILLING_SPACE, "W-MON")
    a, b = space_filling(hp, 5, seed=1), space_filling(hp, 5, seed=1)
    assert a.sizes["hp"] == 5 and np.array_equal(a["hp"].values, b["hp"].values)
    assert len(np.unique(a["hp"].values)) == 5
    assert set(a["family"].values) == {"ets", "theta", "seasonal_naive"}
    assert space_filling(hp, 50, seed=1).sizes["hp"] == hp.sizes["hp"]


# --- known answers for the small pieces (written to kill mutmut's survivors, docs/testing.md) ---


def test_grid_method_ignores_n_and_random_draws_without_replacement():
    """`grid` keeps every hp whatever n; a random draw of all but one never repeats an hp."""
    grid = parse_space({**FULL, "sample": {"method": "grid", "n": 3}}, "W-MON")
    assert grid.sizes["hp"] == FULL_SIZE
    almost = parse_space({**FULL, "sample": {"method": "random", "n": FULL_SIZE - 1}}, "W-MON")
    assert len(set(almost["label"].values.tolist())) == FULL_SIZE - 1


def test_the_space_is_kept_as_sorted_json_and_a_file_names_itself_in_errors(tmp_path):
    """attrs['space'] is the raw space as sorted JSON; a bad file's error names the file."""
    raw = {"families": {"seasonal_naive": {}}}
    assert parse_space(raw, "W-MON").attrs["space"] == json.dumps(raw, sort_keys=True)
    bad = tmp_path / "bad-space.yaml"
    bad.write_text("families: {nonsense: {}}\n")
    with pytest.raises(ConfigError, match="bad-space.yaml"):
        load_space(bad, "W-MON")


def test_positions_rank_each_varying_coord_into_the_unit_cube():
    from fcast.core.space import _positions

    hp = to_dataset(
        [
            Model.create("theta", {"variant": "standard", "log": True}, 52),
            Model.create("seasonal_naive", {"log": False}, 52),
            Model.create("seasonal_naive", {"log": True}, 52),
        ]
    )
    # columns: family (seasonal_naive < theta), log (0 < 1), variant ("" < "standard")
    np.testing.assert_array_equal(
        _positions(hp),
        [[3 / 4, 3 / 4, 3 / 4], [1 / 4, 1 / 4, 1 / 4], [1 / 4, 3 / 4, 1 / 4]],
    )
    same = to_dataset([Model.create("seasonal_naive", {}, 52)] * 3)
    np.testing.assert_array_equal(_positions(same), np.zeros((3, 1)))


def test_space_filling_draws_one_hp_per_stratum():
    hp = to_dataset([Model.create("ets", {"spec": s}, 52) for s in ("AAN", "ANN", "MAN", "MNN")])
    # one axis (spec) with positions 1/8, 3/8, 5/8, 7/8: 2 strata [0, 1/2) and [1/2, 1)
    for seed in range(6):
        picked = space_filling(hp, 2, seed=seed)["hp"].values.tolist()
        assert len(picked) == 2 and picked[0] in (0, 1) and picked[1] in (2, 3), seed
    assert space_filling(hp, 4) is hp
    big = to_dataset(
        [Model.create("ets", {"spec": s}, 52) for s in ("AAN", "ANN", "MAN", "MNN")] * 3
    )
    # the default seed is 0
    assert (
        space_filling(big, 5)["hp"].values.tolist()
        == space_filling(big, 5, seed=0)["hp"].values.tolist()
    )
    assert any(
        space_filling(big, 5, seed=s)["hp"].values.tolist()
        != space_filling(big, 5)["hp"].values.tolist()
        for s in (1, 2, 3)
    )
    assert space_filling(hp, 3, seed=0)["hp"].values.tolist() == sorted(
        space_filling(hp, 3, seed=0)["hp"].values.tolist()
    )
    assert len(set(space_filling(hp, 3, seed=2)["hp"].values.tolist())) == 3


def test_space_names_and_paths_known_answers():
    from fcast.core.space import is_space_name

    names = {"weekly": True, "Xmas": True, "w.YAML": True, "w.YML": True}
    paths = {"a/b": False, "a\\b": False, "C:": False, "x.yaml": False, "x.yml": False}
    for value, expected in {**names, **paths}.items():
        assert is_space_name(value) is expected, value
    with pytest.raises(ConfigError) as err:
        builtin_space("weekley")
    assert str(err.value).endswith("(or give the path of a space YAML file)")
    with pytest.raises(ConfigError) as err:
        default_space("h")
    assert str(err.value).endswith(
        "(there are daily, weekly, monthly and quarterly ones): give `space:` in the config"
    )


# --- known answers for parse_space's defaults (mutation survivors, docs/testing.md) ---


def test_parse_space_names_the_default_source_and_keeps_the_mapping_sorted():
    for raw in (["ets"], {"families": {"ets": {"spec": ["ANA"]}}}, {"families": {"nope": {}}}):
        with pytest.raises(ConfigError, match="^invalid space <space>:"):
            parse_space(raw, "W-MON")
    seasonal = SpaceSpec.model_validate({"families": {"ets": {"spec": ["ANA"]}}})
    with pytest.raises(ConfigError, match="^invalid space <space>:"):
        expand(seasonal, "W-MON")
    raw = {"families": {"theta": {"variant": ["standard"]}, "ets": {"spec": ["ANN"]}}}
    ds = parse_space(raw, "W-MON")
    assert ds.attrs["space"] == json.dumps(raw, sort_keys=True)
    assert ds.attrs["space"].index('"ets"') < ds.attrs["space"].index('"theta"')


def test_to_dataset_of_no_models_keeps_string_coords():
    ds = to_dataset([])
    assert ds.sizes["hp"] == 0
    assert ds["family"].dtype.kind == "U" and ds["label"].dtype.kind == "U"

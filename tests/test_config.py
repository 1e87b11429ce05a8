"""Tests for fcast.config: parsing, path resolution, cluster shorthands, errors, fingerprint."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from fcast.config import RunConfig, load_config, parse_config
from fcast.core.space import BUILTIN
from fcast.errors import ConfigError

SMALL_SPACE = {"families": {"ets": {"spec": ["ANN", "AAdN"]}, "seasonal_naive": {}}}


def minimal() -> dict:
    return {"data": {"actuals": "data/actuals.parquet"}}


def write_config(folder: Path, raw, name: str = "run.yaml", space: dict | None = None) -> Path:
    """Write a config (and a valid space file next to it unless given) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spaces").mkdir(exist_ok=True)
    (folder / "spaces" / "s.yaml").write_text(yaml.safe_dump(space or SMALL_SPACE))
    if isinstance(raw, dict):
        raw = {"space": "spaces/s.yaml", **raw}
        text = yaml.safe_dump(raw)
    else:
        text = raw
    path = folder / name
    path.write_text(text)
    return path


# --- valid configs ------------------------------------------------------------------------


def test_minimal_config_defaults():
    cfg = parse_config(minimal(), source="mem.yaml")
    assert isinstance(cfg, RunConfig)
    assert cfg.data.actuals == "data/actuals.parquet"  # no base: left as given
    assert cfg.data.value == "users"
    assert cfg.data.freq == "W-MON"
    assert cfg.data.markets is None
    assert cfg.data.ragged == "per_market"
    assert cfg.horizon == 52
    assert (cfg.cv.splits, cfg.cv.step, cfg.cv.holdout) == (4, 13, 13)
    assert cfg.cv_horizon == 52
    assert cfg.tune.metric == "mase"
    assert (cfg.select.top, cfg.select.combine) == (3, "best")
    assert cfg.levels == [80, 95]
    assert cfg.cluster.local is not None and cfg.cluster.local.workers == 2
    assert cfg.cluster.address is None and cfg.cluster.kubernetes is None
    assert cfg.source == "mem.yaml"


def test_ragged_policy_is_one_of_three_named_choices():
    raw = minimal()
    raw["data"]["ragged"] = "error"
    assert parse_config(raw).data.ragged == "error"
    raw["data"]["ragged"] = "shift"
    with pytest.raises(ConfigError, match=r"data\.ragged"):
        parse_config(raw, source="run.yaml")


def test_cv_horizon_override_and_levels_sorted_unique():
    cfg = parse_config({**minimal(), "horizon": 26, "cv": {"horizon": 8}, "levels": [95, 50, 95]})
    assert cfg.cv_horizon == 8
    assert cfg.levels == [50, 95]


def test_load_config_resolves_relative_paths(tmp_path):
    folder = tmp_path / "cfgs"
    raw = {
        "data": {"actuals": "data/actuals.csv", "markets": "../shared/markets.parquet"},
        "store": "./store",
    }
    cfg = load_config(write_config(folder, raw))
    base = folder.resolve()
    assert cfg.data.actuals == str(base / "data" / "actuals.csv")
    assert cfg.data.markets == str((tmp_path / "shared" / "markets.parquet").resolve())
    assert cfg.space == str(base / "spaces" / "s.yaml")
    assert cfg.store == str(base / "store")


def test_load_config_resolves_against_config_folder_not_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "deep" / "cfg"
    path = write_config(folder, minimal())
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("deep/cfg/run.yaml"))
    assert cfg.data.actuals == str(folder.resolve() / "data" / "actuals.parquet")
    assert cfg.source == str(Path("deep/cfg/run.yaml"))
    assert path.exists()


def test_urls_and_absolute_paths_stay_untouched(tmp_path):
    absolute = str((tmp_path / "abs" / "markets.parquet").resolve())
    raw = {
        "data": {"actuals": "s3://bucket/actuals.parquet", "markets": absolute},
        "store": "gs://bucket/fcast-store",
    }
    cfg = load_config(write_config(tmp_path / "c", raw))
    assert cfg.data.actuals == "s3://bucket/actuals.parquet"
    assert cfg.data.markets == absolute
    assert cfg.store == "gs://bucket/fcast-store"


def test_parse_config_with_base(tmp_path):
    cfg = parse_config({**minimal(), "cluster": {"kubernetes": "k8s/cluster.yaml"}}, base=tmp_path)
    assert cfg.data.actuals == str(tmp_path.resolve() / "data" / "actuals.parquet")
    assert cfg.cluster.kubernetes.spec == str(tmp_path.resolve() / "k8s" / "cluster.yaml")
    assert cfg.cluster.local is None


@pytest.mark.parametrize("value", ["local", None])
def test_cluster_local_shorthand(value):
    cfg = parse_config({**minimal(), "cluster": value})
    assert cfg.cluster.local is not None
    assert (cfg.cluster.local.workers, cfg.cluster.local.threads) == (2, 1)
    assert cfg.cluster.address is None


def test_cluster_address_shorthand():
    cfg = parse_config({**minimal(), "cluster": "tcp://scheduler:8786"})
    assert cfg.cluster.address == "tcp://scheduler:8786"
    assert cfg.cluster.local is None
    assert cfg.cluster.kubernetes is None


def test_cluster_local_mapping():
    cfg = parse_config({**minimal(), "cluster": {"local": {"workers": 3}}})
    assert cfg.cluster.local.workers == 3
    assert cfg.cluster.local.threads == 1
    assert cfg.cluster.address is None


def test_repo_demo_config_loads():
    demo = Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"
    cfg = load_config(demo)
    assert cfg.space == str(BUILTIN / "weekly.yaml")  # no `space:`: the weekly default
    assert cfg.cluster.local.workers == 2
    assert cfg.tune.block_markets == 6


# --- invalid configs ------------------------------------------------------------------------


INVALID = {
    "unknown_key": ({"cv": {"splitz": 3}}, "cv.splitz", "unknown key"),
    "wrong_type": ({"cv": {"splits": "many"}}, "cv.splits", "'many'"),
    "zero_splits": ({"cv": {"splits": 0}}, "cv.splits", "greater than or equal to 1"),
    "unknown_freq": (
        {"data": {"actuals": "a.csv", "freq": "fortnightly"}},
        "data.freq",
        "fortnightly",
    ),
    "unknown_metric": ({"tune": {"metric": "r2"}}, "tune.metric", "'r2'"),
    "bad_combine": ({"select": {"combine": "trimmed"}}, "select.combine", "'trimmed'"),
    "level_zero": ({"levels": [0, 95]}, "levels", "between 0 and 100"),
    "level_100": ({"levels": [80, 100]}, "levels", "between 0 and 100"),
    "two_clusters": (
        {"cluster": {"local": {"workers": 2}, "address": "tcp://h:8786"}},
        "cluster",
        "choose one of local, address, kubernetes",
    ),
    "bad_cluster_string": ({"cluster": "kube"}, "cluster", "'kube'"),
    "top_level_typo": ({"horizn": 12}, "horizn", "unknown key"),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_names_file_and_key(tmp_path, case):
    override, key, detail = INVALID[case]
    raw = {**minimal(), **override}
    path = write_config(tmp_path, raw, name=f"{case}.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert f"{case}.yaml" in msg
    assert f"  {key}: " in msg, msg
    assert detail in msg, msg


def test_missing_data_section(tmp_path):
    path = write_config(tmp_path, {"horizon": 12}, name="nodata.yaml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "nodata.yaml" in msg
    assert "  data: Field required" in msg


def test_several_problems_reported_together():
    with pytest.raises(ConfigError) as info:
        parse_config({**minimal(), "horizon": 0, "cv": {"splits": 0}}, source="two.yaml")
    msg = str(info.value)
    assert "horizon" in msg and "cv.splits" in msg
    assert len(msg.splitlines()) == 3  # header + one line per problem


def test_missing_config_file(tmp_path):
    path = tmp_path / "absent.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(path)
    assert "absent.yaml" in str(info.value)


def test_invalid_yaml_syntax(tmp_path):
    path = write_config(tmp_path, "data: {actuals: [unclosed\nhorizon: 3\n", name="broken.yaml")
    with pytest.raises(ConfigError, match="invalid YAML") as info:
        load_config(path)
    assert "broken.yaml" in str(info.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_non_mapping_top_level(tmp_path, text):
    path = write_config(tmp_path, text, name="list.yaml")
    with pytest.raises(ConfigError, match="expected a mapping") as info:
        load_config(path)
    assert "list.yaml" in str(info.value)


def test_load_config_validates_the_space(tmp_path):
    space = {"families": {"nbeats": {"layers": [2]}}}
    path = write_config(tmp_path, minimal(), space=space)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert "s.yaml" in msg
    assert "families.nbeats" in msg
    assert "unknown family" in msg


def test_load_config_validates_space_against_freq(tmp_path):
    space = {"families": {"ets": {"spec": ["AAA"]}}}
    path = write_config(tmp_path, {"data": {"actuals": "a.csv", "freq": "W-MON"}}, space=space)
    with pytest.raises(ConfigError, match="families.ets"):
        load_config(path)
    # the same space is fine for monthly data (season length 12)
    path = write_config(tmp_path, {"data": {"actuals": "a.csv", "freq": "MS"}}, space=space)
    assert load_config(path).data.freq == "MS"


# --- fingerprint -------------------------------------------------------------------------------


def test_fingerprint_stable_for_equal_configs():
    a = parse_config({**minimal(), "levels": [95, 80]}, source="a.yaml")
    b = parse_config({**minimal(), "levels": [80, 95]}, source="b.yaml")
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 12
    assert a.fingerprint() == a.fingerprint()


def test_fingerprint_changes_with_horizon():
    a = parse_config(minimal())
    b = parse_config({**minimal(), "horizon": 26})
    assert a.fingerprint() != b.fingerprint()


def test_fingerprint_changes_with_cv_and_metric():
    base = parse_config(minimal()).fingerprint()
    assert parse_config({**minimal(), "cv": {"splits": 5}}).fingerprint() != base
    assert parse_config({**minimal(), "tune": {"metric": "mae"}}).fingerprint() != base


@pytest.mark.parametrize(
    ("freq", "name"), [("D", "daily"), ("W-MON", "weekly"), ("MS", "monthly"), ("QS", "quarterly")]
)
def test_space_is_optional_with_a_builtin_default_per_frequency(tmp_path, freq, name):
    raw = {"data": {"actuals": "a.csv", "freq": freq}}
    path = tmp_path / "fcast.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    assert cfg.space == str(BUILTIN / f"{name}.yaml")
    assert load_config(path).fingerprint() == cfg.fingerprint()


def test_space_by_builtin_name_or_path(tmp_path):
    assert parse_config({**minimal(), "space": "holidays"}).space == str(BUILTIN / "holidays.yaml")
    cfg = load_config(write_config(tmp_path, minimal()))  # a path relative to the config
    assert cfg.space == str(tmp_path.resolve() / "spaces" / "s.yaml")
    with pytest.raises(ConfigError, match="unknown built-in space 'nope'"):
        parse_config({**minimal(), "space": "nope"})
    with pytest.raises(ConfigError, match="no built-in default space for data.freq 'h'"):
        parse_config({"data": {"actuals": "a.csv", "freq": "h"}})


def test_data_columns_map_the_files_columns_and_name_the_value():
    cfg = parse_config(
        {
            "data": {
                "actuals": "a.csv",
                "freq": "MS",
                "columns": {"market": "country", "date": "month", "value": "sessions"},
            }
        }
    )
    assert cfg.data.value == "sessions"  # the value is named after the file's column
    assert cfg.data.column_map == {"market": "country", "date": "month", "value": "sessions"}
    named = parse_config(
        {"data": {"actuals": "a.csv", "value": "users", "columns": {"value": "n"}}}
    )
    assert named.data.value == "users" and named.data.column_map == {
        "market": "market",
        "date": "date",
        "value": "n",
    }
    assert parse_config(minimal()).data.column_map is None
    with pytest.raises(ConfigError, match="for a SQL source name them in the query"):
        parse_config(
            {
                "data": {
                    "actuals": {"sql": {"url": "sqlite://", "table": "t"}},
                    "columns": {"date": "d"},
                }
            }
        )
    with pytest.raises(ConfigError, match=r"data.columns.day"):
        parse_config({"data": {"actuals": "a.csv", "columns": {"day": "d"}}})


def test_fingerprint_ignores_store_and_cluster():
    a = parse_config({**minimal(), "store": "./one"})
    b = parse_config({**minimal(), "store": "s3://other/store", "cluster": "tcp://h:8786"})
    assert a.fingerprint() == b.fingerprint()


def test_fingerprint_changes_when_space_file_contents_change(tmp_path):
    path = write_config(tmp_path, minimal())
    before = load_config(path).fingerprint()
    (tmp_path / "spaces" / "s.yaml").write_text(
        yaml.safe_dump({"families": {"theta": {"variant": ["standard"]}}})
    )
    after = load_config(path).fingerprint()
    assert before != after


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"horizon": True}, "horizon: expected a number, got the boolean True"),
        ({"cv": {"splits": 2}, "select": {"weights": [float("nan"), 1]}}, "finite number, got nan"),
        ({"cv": {"splits": 2}, "select": {"weights": [1, -1]}}, "non-negative with a positive sum"),
        ({"cv": {"splits": 2}, "select": {"weights": [1, 2, 3]}}, "3 weights for 2 CV splits"),
        ({"tune": {"task_timeout": float("inf")}}, "finite number, got inf"),
    ],
)
def test_numbers_are_plain_finite_numbers_and_weights_fit_the_splits(extra, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"data": {"actuals": "a.csv"}, **extra})


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path):
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 9):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="expands to more than") as err:
        load_config(tmp_path / "bomb.yaml")
    assert len(str(err.value)) < 300


def test_a_config_path_that_is_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, expected a YAML file"):
        load_config(tmp_path)


def test_select_weighting_and_intervals():
    cfg = parse_config(minimal())
    assert cfg.select.weighting == "equal" and cfg.intervals == "model"
    raw = minimal() | {
        "select": {
            "top": 5,
            "combine": "median",
            "weighting": ["equal", "inverse_error", "stacked"],
        },
        "intervals": "conformal",
    }
    cfg = parse_config(raw)
    assert cfg.select.weighting == ["equal", "inverse_error", "stacked"]
    assert cfg.intervals == "conformal"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"select": {"combine": "median", "weighting": "fancy"}}, "select.weighting: unknown"),
        ({"select": {"combine": "median", "weighting": ["stacked", "stacked"]}}, "twice"),
        ({"select": {"combine": "best", "weighting": "stacked"}}, "combine: mean or median"),
        ({"intervals": "conformal", "cv": {"horizon": 4}}, "as long as the horizon"),
        ({"intervals": "bootstrap"}, "intervals"),
    ],
)
def test_select_weighting_and_intervals_are_validated(extra, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(minimal() | extra)

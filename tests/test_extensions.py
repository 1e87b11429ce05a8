"""Extension model families: the worked example, by dotted path and by installed entry point."""

from __future__ import annotations

import importlib
import importlib.util
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fcast.config import parse_config
from fcast.core.apply import apply, to_table
from fcast.core.models import FAMILIES, ExtensionError, Model, get_family
from fcast.core.space import models_of, parse_space
from fcast.markets.custom import custom_members

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fcast_ext_drift"
DOTTED = "fcast_ext_drift:family"


def _forget() -> None:
    """Drop the example from the registry and the module cache."""
    for key in ("drift", DOTTED):
        FAMILIES.unregister(key)
    sys.modules.pop("fcast_ext_drift", None)
    importlib.invalidate_caches()


@pytest.fixture
def on_path():
    """The example package importable by path (as PYTHONPATH would make it)."""
    sys.path.insert(0, str(EXAMPLE))
    _forget()
    yield str(EXAMPLE)
    sys.path.remove(str(EXAMPLE))
    _forget()


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example installed for real by pip (a wheel built by hatchling) into a target folder.

    Offline when hatchling is in the venv; otherwise pip fetches it into an isolated build env.
    """
    target = tmp_path_factory.mktemp("site")
    offline = importlib.util.find_spec("hatchling") is not None
    flags = ["--no-build-isolation", "--no-index"] if offline else []
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        *flags,
        "--target",
        str(target),
    ]
    done = subprocess.run([*cmd, str(EXAMPLE)], capture_output=True, text=True, timeout=300)
    if done.returncode and not offline:
        pytest.skip(f"cannot build the example without hatchling or network: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr
    return target


@pytest.fixture
def on_site(installed):
    """The installed copy on sys.path, so importlib.metadata sees its entry points."""
    sys.path.insert(0, str(installed))
    _forget()
    yield installed
    sys.path.remove(str(installed))
    _forget()


def test_damped_drift_known_answers(on_path):
    from fcast_ext_drift import DampedDrift

    out = DampedDrift(phi=1.0).forecast(np.arange(10.0), 3, level=[80])
    np.testing.assert_allclose(out["mean"], [10, 11, 12])
    np.testing.assert_allclose(out["lo-80"], [10, 11, 12])  # no noise around the drift: no spread
    out = DampedDrift(phi=0.5).forecast(np.arange(10.0), 3)
    np.testing.assert_allclose(out["mean"], [9.5, 9.75, 9.875])
    # diffs 2, 0, 2: drift 4/3, residuals 2/3, -4/3, 2/3, sd (ddof 1) sqrt(4/3); z_80 = 1.2815516
    out = DampedDrift().forecast(np.array([0.0, 2.0, 2.0, 4.0]), 2, level=[80])
    sd = np.sqrt(4 / 3) * np.sqrt([1, 2])
    np.testing.assert_allclose(out["mean"], [4 + 4 / 3, 4 + 8 / 3])
    np.testing.assert_allclose(out["hi-80"], out["mean"] + 1.2815515655 * sd, rtol=1e-9)


def test_dotted_path_family_in_models_spaces_and_custom_markets(on_path):
    fam = get_family(DOTTED)
    assert fam.name == DOTTED and fam.params == {"phi": float}
    model = Model.create(DOTTED, {"phi": "0.5"}, 52)
    assert model.params == {"phi": 0.5} and model.check() is None
    np.testing.assert_allclose(model.forecast(np.arange(10.0), 2)["mean"], [9.5, 9.75])
    assert "phi must be in (0, 1]" in Model.create(DOTTED, {"phi": 2}, 52).check()
    hp = parse_space({"families": {DOTTED: {"phi": [0.9, 1.0]}}}, "W-MON")
    assert hp["family"].values.tolist() == [DOTTED, DOTTED]
    assert [m.params["phi"] for m in models_of(hp, 52)] == [0.9, 1.0]
    cfg = parse_config(
        {"data": {"actuals": "x.csv"}, "custom": {"IS": {"family": DOTTED, "params": {"phi": 0.9}}}}
    )
    (member,) = custom_members(cfg.custom, 52)["IS"]
    assert member[0].family == DOTTED and member[1] == 1.0


def test_dotted_path_family_runs_on_dask_workers(on_path, small_cube, client1):
    """Workers import the extension too: here the folder is added to the running workers' path."""
    client1.run(site.addsitedir, on_path)
    members = custom_members({"SE": {"family": DOTTED, "params": {"phi": 1.0}}}, 52)
    y = small_cube["y"]
    fc = apply(y, members, horizon=4, levels=[80, 95], client=client1)
    table = to_table(fc, segment="custom")
    assert table["family"].unique().tolist() == [DOTTED]
    series = y.sel(market="SE").values
    series = series[np.isfinite(series)]
    drift = (series[-1] - series[0]) / (len(series) - 1)
    np.testing.assert_allclose(table["yhat"], series[-1] + drift * np.arange(1, 5), rtol=1e-9)
    assert (table["yhat_lo_95"] < table["yhat_lo_80"]).all() and (
        table["yhat_hi_80"] < table["yhat_hi_95"]
    ).all()


def test_installed_entry_point_is_found_by_name(on_site):
    assert "drift" not in FAMILIES
    fam = get_family("drift")
    assert fam.name == "drift" and Path(sys.modules["fcast_ext_drift"].__file__).is_relative_to(
        on_site
    )
    assert "drift" in FAMILIES
    model = Model.create("drift", {}, 52)
    assert model.label() == "drift" and model.params == {"phi": 1.0}
    hp = parse_space({"families": {"drift": {"phi": [0.8]}, "seasonal_naive": {}}}, "W-MON")
    assert hp["family"].values.tolist() == ["drift", "seasonal_naive"]
    cfg = parse_config(
        {"data": {"actuals": "x.csv"}, "custom": {"IS": {"family": "drift", "reason": "trial"}}}
    )
    assert custom_members(cfg.custom, 52)["IS"][0][0].family == "drift"


def test_unknown_extension_lists_installed_entry_points(on_site):
    with pytest.raises(KeyError) as info:
        get_family("nbeats")
    assert "'drift'" in str(info.value) and "dotted path" in str(info.value)


def test_broken_dotted_paths_say_why():
    with pytest.raises(
        ExtensionError,
        match=r"cannot load model family 'no_such_pkg_xyz:family': ModuleNotFoundError",
    ):
        get_family("no_such_pkg_xyz:family")
    with pytest.raises(
        ExtensionError, match=r"TypeError: expected a fcast.core.models.Family, got list"
    ):
        get_family("fcast.core.models:extension_names")  # a callable that does not return a Family
    assert "no_such_pkg_xyz:family" not in FAMILIES
    assert "fcast.core.models:extension_names" not in FAMILIES

"""Parameter spaces: YAML listing families and grids -> the `hp` dimension.

A space file looks like::

    preprocess:              # applies to every family
      log: [false, true]
      window: [null, 156]    # training window in periods; null = all history
    families:
      ets: {spec: [ANN, AAdN]}
      theta: {variant: [standard, optimized]}
      seasonal_naive: {}
    sample: {method: grid}   # or {method: random, n: 40, seed: 0}

The result is an `xr.Dataset` with dim `hp`, coord `family`, one coord per parameter
(NaN or "" where a family does not have it) and `label`, a readable name. `space_filling`
draws a seeded, evenly spread subset of it.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fcast.core.models import (
    FAMILIES,
    PREPROCESS,
    Model,
    coerce_params,
    get_family,
    has_family,
    param_types,
)
from fcast.data.ingest import season_length
from fcast.errors import ConfigError
from fcast.yamlio import format_errors, read_yaml

Grid = dict[str, list[Any]]


class SampleSpec(BaseModel):
    """How hps are drawn from the full grid."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["grid", "random"] = "grid"
    n: int | None = Field(None, ge=1)
    seed: int = 0


class SpaceSpec(BaseModel):
    """A validated space file."""

    model_config = ConfigDict(extra="forbid")
    preprocess: dict[str, list[Any]] = {}
    families: dict[str, dict[str, list[Any] | Any] | None]
    sample: SampleSpec = SampleSpec()


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _family_grid(family: str, grid: dict[str, Any], preprocess: Grid) -> list[dict[str, Any]]:
    """All combinations of one family's grid and the preprocessing grid."""
    merged = {
        **{k: _as_list(v) for k, v in preprocess.items()},
        **{k: _as_list(v) for k, v in grid.items()},
    }
    names = sorted(merged)
    combos = itertools.product(*(merged[n] for n in names))
    return [dict(zip(names, values, strict=True)) for values in combos]


def expand(spec: SpaceSpec, freq: str, source: str = "<space>") -> list[Model]:
    """Expand a space spec into its models, validating families and parameters."""
    m = season_length(freq)
    unknown_pre = sorted(set(spec.preprocess) - set(PREPROCESS))
    if unknown_pre:
        raise ConfigError(
            f"invalid space {source}: preprocess.{unknown_pre[0]}: unknown; known: {sorted(PREPROCESS)}"
        )
    models: list[Model] = []
    for family, grid in spec.families.items():
        if not has_family(family):
            raise ConfigError(
                f"invalid space {source}: families.{family}: unknown family; known: {sorted(FAMILIES)}"
            )
        for params in _family_grid(family, grid or {}, spec.preprocess):
            try:
                model = Model(family, coerce_params(family, params), m)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"invalid space {source}: families.{family}: {exc}") from None
            problem = model.check()
            if problem:
                raise ConfigError(
                    f"invalid space {source}: families.{family}: {problem} (freq {freq})"
                )
            models.append(model)
    if not models:
        raise ConfigError(f"invalid space {source}: no models (families is empty)")
    return _sample(models, spec.sample)


def _sample(models: list[Model], sample: SampleSpec) -> list[Model]:
    """Keep the full grid or a seeded random subset (in grid order)."""
    if sample.method == "grid" or sample.n is None or sample.n >= len(models):
        return models
    rng = np.random.default_rng(sample.seed)
    keep = np.sort(rng.choice(len(models), size=sample.n, replace=False))
    return [models[i] for i in keep]


def to_dataset(models: list[Model]) -> xr.Dataset:
    """The `hp` dimension as a Dataset of coords: family, one coord per parameter, label."""
    names = sorted({k for m in models for k in m.params})
    coords: dict[str, Any] = {
        "family": ("hp", np.array([m.family for m in models], dtype=str)),
        "label": ("hp", np.array([m.label() for m in models], dtype=str)),
    }
    for name in names:
        values = [m.params.get(name) for m in models]
        present = [v for v in values if v is not None]
        if all(isinstance(v, (bool, int, float)) for v in present):
            arr = np.array([np.nan if v is None else float(v) for v in values])
        else:
            arr = np.array(["" if v is None else str(v) for v in values], dtype=str)
        coords[name] = ("hp", arr)
    return xr.Dataset(coords={"hp": np.arange(len(models)), **coords})


def models_of(hp: xr.Dataset | xr.DataArray, season_length: int) -> list[Model]:
    """Rebuild the models from the hp coords of any cube variable."""
    names = [
        c for c in hp.coords if c not in ("hp", "family", "label") and hp.coords[c].dims == ("hp",)
    ]
    out = []
    for i in range(hp.sizes["hp"]):
        family = str(hp["family"].values[i])
        params = {n: hp[n].values[i].item() for n in names if n in hp.coords}
        allowed = param_types(get_family(family))
        params = {k: v for k, v in params.items() if k in allowed}
        out.append(Model.create(family, params, season_length))
    return out


def parse_space(raw: Any, freq: str, source: str = "<space>") -> xr.Dataset:
    """Validate a space mapping and expand it into the hp Dataset."""
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid space {source}: expected a mapping with 'families'")
    try:
        spec = SpaceSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, f"invalid space {source}:")) from None
    ds = to_dataset(expand(spec, freq, source))
    ds.attrs["space"] = json.dumps(raw, sort_keys=True, default=str)
    return ds


#: the parameter spaces shipped in the package (fcast/spaces/*.yaml), by name
BUILTIN = Path(__file__).resolve().parents[1] / "spaces"
#: the built-in space a config without `space:` uses, by pandas offset name
_DEFAULTS = {
    "D": "daily",
    "B": "daily",
    "W": "weekly",
    "MS": "monthly",
    "ME": "monthly",
    "M": "monthly",
    "QS": "quarterly",
    "QE": "quarterly",
    "Q": "quarterly",
}


def builtin_spaces() -> list[str]:
    """Names of the spaces shipped in the package (`space: weekly` in a config)."""
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def is_space_name(value: str) -> bool:
    """Whether `value` names a built-in space (a bare word) rather than a file path."""
    return not any(c in value for c in "/\\:") and not value.endswith((".yaml", ".yml"))


def builtin_space(name: str) -> Path:
    """The file of built-in space `name`; an unknown name is a ConfigError listing them."""
    path = BUILTIN / f"{name}.yaml"
    if not is_space_name(name) or not path.is_file():
        raise ConfigError(
            f"unknown built-in space {name!r}; built-in: {', '.join(builtin_spaces())} "
            "(or give the path of a space YAML file)"
        )
    return path


def default_space(freq: str) -> Path:
    """The built-in space for data of frequency `freq` (what a config without `space:` uses)."""
    name = _DEFAULTS.get(pd.tseries.frequencies.to_offset(freq).name.split("-")[0])
    if name is None:
        raise ConfigError(
            f"no built-in default space for data.freq {freq!r} (there are daily, weekly, "
            "monthly and quarterly ones): give `space:` in the config"
        )
    return builtin_space(name)


def load_space(path: str | Path, freq: str) -> xr.Dataset:
    """Read and expand a space YAML file, or a built-in space given by name (`weekly`)."""
    if isinstance(path, str) and is_space_name(path):
        path = builtin_space(path)
    return parse_space(read_yaml(path), freq=freq, source=str(path))


def _positions(hp: xr.Dataset) -> np.ndarray:
    """Each hp as a point in [0, 1]^d: one axis per parameter coord (and family), values ranked."""
    names = [c for c in hp.coords if c not in ("hp", "label") and hp.coords[c].dims == ("hp",)]
    cols = []
    for n in names:
        vals = pd.Series(hp[n].values).astype(str)
        levels = sorted(vals.unique())
        if len(levels) < 2:
            continue
        idx = vals.map({v: k for k, v in enumerate(levels)}).to_numpy(dtype=float)
        cols.append((idx + 0.5) / len(levels))
    return np.column_stack(cols) if cols else np.zeros((hp.sizes["hp"], 1))


def space_filling(hp: xr.Dataset, n: int, seed: int = 0) -> xr.Dataset:
    """A seeded Latin-hypercube-like subset of `n` hps: stratified targets, each matched to the nearest unused hp."""
    total = hp.sizes["hp"]
    if n >= total:
        return hp
    pts = _positions(hp)
    rng = np.random.default_rng(seed)
    d = pts.shape[1]
    strata = np.stack([rng.permutation(n) for _ in range(d)], axis=1)
    targets = (strata + rng.uniform(size=(n, d))) / n
    free = np.ones(total, dtype=bool)
    chosen = []
    for t in targets:
        dist = np.where(free, ((pts - t) ** 2).sum(axis=1), np.inf)
        k = int(np.argmin(dist))
        chosen.append(k)
        free[k] = False
    return hp.isel(hp=np.sort(chosen))

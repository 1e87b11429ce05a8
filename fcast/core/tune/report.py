"""Which hyperparameters matter: a space report over a tuning cube, and the space narrowed to what was selected.

Pure functions over the cube and the selection table; `fcast.jobs.space_report` writes them
into a run folder (`fcast space-report RUN_ID`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.core.select import score, split_weights
from fcast.core.space import models_of


def _params(hp: xr.Dataset) -> list[str]:
    """The parameter coords of the hp dimension (not hp, family or label)."""
    return [
        c for c in hp.coords if c not in ("hp", "family", "label") and hp.coords[c].dims == ("hp",)
    ]


def space_report(
    tuning: xr.Dataset, selection: pd.DataFrame, weights: str | Sequence[float] = "linear"
) -> pd.DataFrame:
    """Per family, parameter and value: how much the CV error moves along it, and how often it is selected.

    `gap` = median over markets of (best score among the family's hps with this value) / (best
    score in the family) - 1; `spread` (per family and parameter) = median over markets of the
    largest such gap, i.e. how much getting this parameter wrong costs. `selected` counts
    markets whose chosen members (weight > 0) use the value.
    """
    w = split_weights(tuning["split"].values, weights)
    sc = (
        score(tuning["error"], tuning["status"], w, tuning.attrs["metric"])
        .transpose("market", "hp")
        .compute()
        .values
    )
    chosen = selection[selection["weight"] > 0] if len(selection) else selection
    rows = []
    fam = tuning["family"].values.astype(str)
    for f in sorted(set(fam)):
        in_f = fam == f
        best_f = (
            np.nanmin(np.where(in_f[None, :], sc, np.nan), axis=1)
            if np.isfinite(sc[:, in_f]).any()
            else None
        )
        sel_f = chosen[chosen["family"] == f] if len(chosen) else chosen
        for p in _params(tuning):
            vals = tuning[p].values
            present = [
                v
                for v in pd.unique(vals[in_f])
                if not (v == "" or (isinstance(v, float) and np.isnan(v)))
            ]
            if not present:
                continue
            gaps = {}
            for v in present:
                mask = in_f & (vals == v)
                with np.errstate(all="ignore"):
                    b = (
                        np.nanmin(np.where(mask[None, :], sc, np.nan), axis=1)
                        if best_f is not None
                        else None
                    )
                gaps[v] = (b / best_f - 1.0) if b is not None else np.full(sc.shape[0], np.nan)
            stack = np.stack(list(gaps.values()))
            with np.errstate(all="ignore"):
                spread = (
                    float(np.nanmedian(np.nanmax(stack, axis=0)))
                    if np.isfinite(stack).any()
                    else float("nan")
                )
            for v, g in gaps.items():
                n_sel = 0
                if len(sel_f):
                    sel_hps = sel_f["hp"].to_numpy()
                    n_sel = int(sel_f.loc[vals[sel_hps] == v, "market"].nunique())
                rows.append(
                    {
                        "family": f,
                        "param": p,
                        "value": str(v.item() if hasattr(v, "item") else v),
                        "n_values": len(present),
                        "gap": float(np.nanmedian(g)) if np.isfinite(g).any() else float("nan"),
                        "spread": spread,
                        "selected": n_sel,
                    }
                )
    return pd.DataFrame(rows)


def narrowed_space(
    tuning: xr.Dataset, selection: pd.DataFrame, season_length: int = 1
) -> dict[str, Any]:
    """A space (YAML mapping) keeping the families and parameter values some market selected."""
    hp = xr.Dataset(
        coords={c: tuning.coords[c] for c in tuning.coords if tuning.coords[c].dims == ("hp",)}
    ).compute()
    models = models_of(hp, season_length)
    chosen = selection[selection["weight"] > 0] if len(selection) else selection
    used = sorted({int(h) for h in chosen["hp"]}) if len(chosen) else list(range(hp.sizes["hp"]))
    families: dict[str, dict[str, list[Any]]] = {}
    for h in used:
        m = models[h]
        grid = families.setdefault(m.family, {})
        for k, v in m.params.items():
            v = v.item() if hasattr(v, "item") else v
            if v not in grid.setdefault(k, []):
                grid[k].append(v)
    for grid in families.values():
        for k in grid:
            with contextlib.suppress(TypeError):  # mixed types keep their first-seen order
                grid[k] = sorted(grid[k])
    return {"families": families, "sample": {"method": "grid"}}


def space_size(space: dict[str, Any]) -> int:
    """How many hps a narrowed space (`narrowed_space`) holds: the product of its value lists per family."""
    return sum(
        math.prod(len(v) for v in g.values()) if g else 1 for g in space["families"].values()
    )

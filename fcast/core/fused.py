"""Select and apply in one wave: each block task scores its markets' holdout refits, chooses, and forecasts.

The two-wave path (`fcast.core.select.select`, then `fcast.core.apply.apply`) sends every
block of markets to the cluster twice. A market's choice depends on its own holdout
scores only, so one task can do both for a block: the holdout refits (`holdout_block`),
the choice (`choose` on the block's markets) and the refit on all history
(`apply_block`) of the members chosen, rebuilt from the block's selection rows exactly as
the applier rebuilds them. The client then joins the blocks' selection tables and
forecasts; both are the same as the two-wave path gives.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from fcast.contract import LEVELS
from fcast.core.apply import (
    COMBINES,
    Member,
    apply_block,
    forecast_dataset,
    members_from_selection,
)
from fcast.core.executor import Block, run_blocks
from fcast.core.models import Model
from fcast.core.select import choose, holdout_block, hp_coords, score, split_weights, top_hps
from fcast.core.series import align_x
from fcast.core.space import models_of
from fcast.data.calendar import future_index


def _block_scores(
    y: np.ndarray,
    members: list[list[Model]],
    holdout: int,
    metric: str,
    x: np.ndarray | None,
    features: list[str] | None,
    combine: str,
    width: int,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Holdout scores (market, rank) and of the combined forecast (market); None without a holdout."""
    if holdout <= 0:
        return None, None
    hist = None if x is None else x[:, : y.shape[1]]
    s, m = holdout_block(y, members, holdout, metric, hist, features, combine)
    member = np.full((y.shape[0], width), np.nan)
    member[:, : s.shape[1]] = s
    return member, m


def select_apply_block(
    y: np.ndarray,
    markets: list[str],
    top: xr.DataArray,
    cv: xr.DataArray,
    hp: xr.Dataset,
    models: list[Model],
    settings: dict,
    x: np.ndarray | None = None,
    features: list[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The kernel of one block: its selection rows and its forecast (`apply_block`'s output)."""
    season = settings["season_length"]
    members_ho = [[models[int(h)] for h in row if h >= 0] for row in top.values]
    ho_combine = settings["choice"] if settings["choice"] in COMBINES else "mean"
    s, m = _block_scores(
        y,
        members_ho,
        settings["holdout"],
        settings["metric"],
        x,
        features,
        ho_combine,
        top.sizes["rank"],
    )
    coords = {"market": np.asarray(markets)}
    ho = (
        None
        if s is None
        else xr.DataArray(s, dims=("market", "rank"), coords={**coords, "rank": top["rank"].values})
    )
    ho_mean = None if m is None else xr.DataArray(m, dims="market", coords=coords)
    selection = choose(top, cv, ho, ho_mean, hp, settings["choice"])
    chosen: dict[str, list[Member]] = members_from_selection(selection, season)
    out, families = apply_block(
        y,
        [chosen.get(mk, []) for mk in markets],
        settings["horizon"],
        settings["levels"],
        x,
        features,
        "median" if settings["choice"] == "median" else "mean",
        season,
    )
    return selection, out, families


def select_and_apply(
    tuning: xr.Dataset,
    y: xr.DataArray,
    *,
    horizon: int,
    freq: str,
    levels: Sequence[int] = LEVELS,
    top: int = 3,
    combine: str = "best",
    weights: str | Sequence[float] = "linear",
    holdout: int = 0,
    client=None,  # noqa: ANN001
    x: xr.DataArray | None = None,
    block_markets: int = 8,
) -> tuple[pd.DataFrame, xr.Dataset]:
    """`select` then `apply` of every market of y in one wave of block tasks: the selection table and the forecast.

    A market without a scored hp gets the applier's fallback, as `apply_selection` gives it.
    `x`: holiday features over y's times and the `horizon` periods after.
    """
    if combine not in ("best", *COMBINES):
        raise ValueError(f"combine must be best, mean or median, got {combine!r}")
    metric = tuning.attrs["metric"]
    season = int(tuning.attrs["season_length"])
    cv = score(
        tuning["error"], tuning["status"], split_weights(tuning["split"].values, weights), metric
    ).compute()
    markets = y["market"].values.astype(str).tolist()
    best = top_hps(cv, top).sel(market=markets)
    cv = cv.sel(market=markets)
    hp = hp_coords(tuning)
    models = models_of(hp, season)
    used = {int(h) for h in np.unique(best.values) if h >= 0}
    needs_x = any(models[h].uses_x for h in used)
    if needs_x and x is None:
        raise ValueError(
            "the top hps have models with holiday regressors; pass the holiday features as x"
        )
    x_values, features = (
        align_x(x, y, future_index(y["time"].values, horizon, freq)) if needs_x else (None, None)
    )
    settings = {
        "season_length": season,
        "holdout": holdout,
        "metric": metric,
        "choice": combine,
        "horizon": horizon,
        "levels": list(levels),
    }
    values = y.values
    slices = [
        slice(i, min(i + block_markets, len(markets)))
        for i in range(0, len(markets), block_markets)
    ]
    blocks = [
        Block(
            str(b.start),
            b,
            (values[b], markets[b], best.isel(market=b), cv.isel(market=b), hp, models, settings)
            + ((None, None) if x_values is None else (x_values[b], features)),
        )
        for b in slices
    ]
    results = run_blocks(select_apply_block, blocks, client=client, prefix="select-apply")
    tables = [r[0] for r in results if len(r[0])]
    selection = (
        pd.concat(tables, ignore_index=True)
        if tables
        else results[0][0]
        if results
        else choose(best, cv, None, None, hp, combine)
    )
    fc = forecast_dataset(
        [(r[1], r[2]) for r in results], markets, y["time"].values[-1], horizon, levels, freq
    )
    return selection, fc


__all__ = ["select_and_apply", "select_apply_block"]

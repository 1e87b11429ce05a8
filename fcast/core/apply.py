"""Applier: refit the selected model(s) per market on all history and forecast the horizon.

A market's forecast is the weighted mean of its selected members (one member with
weight 1 for `combine: best`), or with `combine: median` their pointwise median; interval
bounds are combined the same way. A member that fails to refit is dropped and the others
re-weighted. A market whose members all fail, or that has none (an empty member list: a
market the selector could not choose for, or one without a tuned selection), gets the one
fallback, `fallback_forecast` (seasonal naive), labelled `fcast.contract.FALLBACK` in `family`.
User counts cannot be negative, so forecasts and bounds are clipped at zero.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from fcast.contract import FALLBACK, LEVELS, bound_columns, forecast_columns, quantiles_of
from fcast.core.executor import Block, run_blocks
from fcast.core.models import Model
from fcast.core.series import align_x, first_observed
from fcast.data.calendar import future_index

Member = tuple[Model, float]
COMBINES = ("mean", "median")


def pool(
    values: Sequence[np.ndarray], combine: str = "mean", weights: Sequence[float] | None = None
) -> np.ndarray:
    """Members' forecasts pooled pointwise: weighted mean (equal weights by default) or median."""
    if combine == "median":  # weights do not enter
        return np.median(values, axis=0)
    if weights is None:
        return np.mean(values, axis=0)
    w = np.asarray(weights) / np.sum(weights)
    return sum(wi * v for wi, v in zip(w, values, strict=True))


def combine_of(selection: pd.DataFrame) -> str:
    """How a selection table's members are combined: 'median' if it says so, else the weighted mean."""
    if "combine" in selection.columns and (selection["combine"] == "median").any():
        return "median"
    return "mean"


def members_from_selection(selection: pd.DataFrame, season_length: int) -> dict[str, list[Member]]:
    """Rebuild each market's weighted models from a selection table."""
    out: dict[str, list[Member]] = {}
    for row in selection[selection["weight"] > 0].itertuples(index=False):
        model = Model.create(row.family, json.loads(row.params), season_length)
        out.setdefault(str(row.market), []).append((model, float(row.weight)))
    return out


def fallback_forecast(
    y: np.ndarray, horizon: int, levels: Sequence[int], season_length: int
) -> dict[str, np.ndarray]:
    """The one fallback: seasonal naive (plain naive when y is not longer than a season), clipped at zero."""
    m = season_length if len(y) > season_length else 1
    fc = Model.create("seasonal_naive", {}, m).forecast(y, horizon, level=list(levels))
    return {k: np.clip(v, 0.0, None) for k, v in fc.items()}


def forecast_series(
    y: np.ndarray,
    members: Sequence[Member],
    horizon: int,
    levels: Sequence[int],
    x: np.ndarray | None = None,
    x_future: np.ndarray | None = None,
    features: Sequence[str] | None = None,
    combine: str = "mean",
    season_length: int = 1,
) -> tuple[dict[str, np.ndarray], str]:
    """Combined forecast of one series (weighted mean or median) and the family description used.

    `x` (time, feature) rows align with `y`, `x_future` has `horizon` rows: holiday features for
    members with regressors. No member, or none that refits: `fallback_forecast` with the
    members' season length (`season_length` when there are none).
    """
    finite = np.isfinite(y)
    y = y[finite]
    if x is not None:
        x = x[finite]
    results, weights, families = [], [], []
    for model, weight in members:
        try:
            if model.uses_x:
                results.append(
                    model.forecast(
                        y, horizon, level=list(levels), X=x, X_future=x_future, features=features
                    )
                )
            else:
                results.append(model.forecast(y, horizon, level=list(levels)))
        except Exception:  # dropped and re-weighted below; all failing triggers the fallback
            continue
        weights.append(weight)
        families.append(model.family)
    if not results:
        m = members[0][0].season_length if members else season_length
        return fallback_forecast(y, horizon, levels, m), FALLBACK
    # pointwise per output: the mean and each bound
    combined = {
        k: np.clip(pool([r[k] for r in results], combine, weights), 0.0, None) for k in results[0]
    }
    family = (
        families[0]
        if len(set(families)) == 1 and len(families) == 1
        else f"{combine}(" + ",".join(families) + ")"
    )
    return combined, family


def apply_block(
    y: np.ndarray,
    members: list[list[Member]],
    horizon: int,
    levels: Sequence[int],
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
    combine: str = "mean",
    season_length: int = 1,
) -> tuple[np.ndarray, list[str]]:
    """Forecast a block of markets: array (market, column, step) with mean then lo/hi per level.

    `x` (market, time, feature) covers y's times followed by the `horizon` future periods.
    `season_length`: the fallback's, for a market without members.
    """
    cols = ["mean"] + [f"{side}-{lv}" for lv in levels for side in ("lo", "hi")]
    out = np.full((y.shape[0], len(cols), horizon), np.nan)
    families = []
    first = first_observed(y)
    for mi in range(y.shape[0]):
        if x is None:
            fc, family = forecast_series(
                y[mi, first[mi] :],
                members[mi],
                horizon,
                levels,
                combine=combine,
                season_length=season_length,
            )
        else:
            n = y.shape[1]
            fc, family = forecast_series(
                y[mi, first[mi] :],
                members[mi],
                horizon,
                levels,
                x[mi, first[mi] : n],
                x[mi, n : n + horizon],
                features,
                combine,
                season_length,
            )
        out[mi] = np.stack([fc[c] for c in cols])
        families.append(family)
    return out, families


def apply(
    y: xr.DataArray,
    members: dict[str, list[Member]],
    horizon: int,
    levels: Sequence[int] = LEVELS,
    freq: str = "W-MON",
    client=None,  # noqa: ANN001
    block_markets: int = 8,
    x: xr.DataArray | None = None,
    combine: str = "mean",
    season_length: int | None = None,
) -> xr.Dataset:
    """Forecast every market in `members`: yhat(market, time) and bounds(market, time, quantile).

    A market mapped to an empty member list gets the fallback (`fallback_forecast`, family
    `fcast.contract.FALLBACK`) with `season_length`; None takes the other members' season
    length (1 when there are none).

    `combine`: how a market's members are combined, `mean` (weighted) or `median` (pointwise);
    `combine_of(selection)` reads it from a selection table.

    `x` (market, time, feature): holiday features over y's times and the `horizon` periods after
    (`fcast.data.calendar.future_index`), for members with regressors.
    """
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {COMBINES}, got {combine!r}")
    markets = [m for m in y["market"].values.tolist() if m in members]
    sub = y.sel(market=markets)
    values = sub.values
    x_values = features = None
    needs_x = any(model.uses_x for m in markets for model, _ in members[m])
    if needs_x and x is None:
        raise ValueError(
            "the selection has models with holiday regressors; pass the holiday features as x"
        )
    if needs_x:
        x_values, features = align_x(x, sub, future_index(sub["time"].values, horizon, freq))
    if season_length is None:
        given = [model.season_length for m in markets for model, _ in members[m]]
        season_length = given[0] if given else 1
    groups = [
        slice(i, min(i + block_markets, len(markets)))
        for i in range(0, len(markets), block_markets)
    ]
    blocks = [
        Block(
            str(g.start),
            g,
            (values[g], [members[m] for m in markets[g]], horizon, list(levels))
            + ((None, None) if x_values is None else (x_values[g], features))
            + (combine, season_length),
        )
        for g in groups
    ]
    results = run_blocks(apply_block, blocks, client=client, prefix="apply")
    return forecast_dataset(results, markets, y["time"].values[-1], horizon, levels, freq)


def forecast_dataset(
    results: Sequence[tuple[np.ndarray, list[str]]],
    markets: Sequence[str],
    last_time: object,
    horizon: int,
    levels: Sequence[int],
    freq: str,
) -> xr.Dataset:
    """The forecast of `apply_block` results (in market order) after `last_time`: yhat, bounds, family."""
    stacked = (
        np.concatenate([r[0] for r in results])
        if results
        else np.empty((0, 1 + 2 * len(levels), horizon))
    )
    families = [f for r in results for f in r[1]]
    last = pd.Timestamp(last_time)
    dates = pd.date_range(last, periods=horizon + 1, freq=freq)[1:]
    quantiles = [q for lv in levels for q in quantiles_of(lv)]
    bounds = stacked[:, 1:, :].transpose(0, 2, 1)
    order = np.argsort(quantiles)
    return xr.Dataset(
        {
            "yhat": (("market", "time"), stacked[:, 0, :]),
            "bounds": (("market", "time", "quantile"), bounds[:, :, order]),
            "family": ("market", np.array(families, dtype=str)),
        },
        coords={
            "market": np.array(markets, dtype=str),
            "time": dates,
            "quantile": np.round(np.asarray(quantiles)[order], 4),
        },
        attrs={"levels": json.dumps(list(levels))},
    )


def to_table(fc: xr.Dataset, segment: str = "mature") -> pd.DataFrame:
    """The forecast as the file-contract table (`fcast.contract.forecast_columns`): market, date, yhat, bounds, family, segment."""
    levels = json.loads(fc.attrs["levels"])
    df = fc["yhat"].to_dataframe().reset_index().rename(columns={"time": "date"})
    bounds = [
        fc["bounds"].sel(quantile=q).values.ravel() for lv in levels for q in quantiles_of(lv)
    ]
    for col, values in zip(bound_columns(levels), bounds, strict=True):
        df[col] = values
    fam = dict(zip(fc["market"].values.tolist(), fc["family"].values.tolist(), strict=True))
    df["family"] = df["market"].map(fam)
    df["segment"] = segment
    return df[forecast_columns(levels)]

"""Applier: refit the selected model(s) per market on all history and forecast the horizon.

A market's forecast is the weighted mean of its selected members (one member with
weight 1 for `combine: best`), or with `combine: median` their pointwise weighted median
(the plain median for equal weights); interval bounds are combined the same way. A member
that fails to refit is dropped and the others re-weighted. A market whose members all fail,
or that has none (an empty member list: a market the selector could not choose for, or one
without a tuned selection), gets the one fallback, `fallback_forecast` (seasonal naive),
labelled `fcast.contract.FALLBACK` in `family`.
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
from fcast.core.series import align_x, first_observed, lags, last_observed
from fcast.core.weighting import weighted_median
from fcast.data.calendar import future_index

Member = tuple[Model, float]
COMBINES = ("mean", "median")


def pool(
    values: Sequence[np.ndarray], combine: str = "mean", weights: Sequence[float] | None = None
) -> np.ndarray:
    """Members' forecasts pooled pointwise: weighted mean or weighted median (equal weights by default).

    With equal weights the median is `np.median` (see `fcast.core.weighting.weighted_median`).
    """
    if combine == "median":
        if weights is None:
            return np.median(values, axis=0)
        return weighted_median(np.asarray(values), np.asarray(weights, dtype=float))
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
    ends: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Forecast a block of markets: array (market, column, step) with mean then lo/hi per level.

    Each market is forecast from its own last observation, `ends[i]` (default: its last finite
    value): it trains on y[first:end + 1] and its future features are x[end + 1 : end + 1 + horizon].
    `x` (market, time, feature) covers y's times followed by the `horizon` future periods.
    `season_length`: the fallback's, for a market without members.
    """
    cols = ["mean"] + [f"{side}-{lv}" for lv in levels for side in ("lo", "hi")]
    out = np.full((y.shape[0], len(cols), horizon), np.nan)
    families = []
    first = first_observed(y)
    stop = (last_observed(y) if ends is None else np.asarray(ends)) + 1
    for mi in range(y.shape[0]):
        train = slice(first[mi], max(stop[mi], first[mi]))
        if x is None:
            fc, family = forecast_series(
                y[mi, train],
                members[mi],
                horizon,
                levels,
                combine=combine,
                season_length=season_length,
            )
        else:
            fc, family = forecast_series(
                y[mi, train],
                members[mi],
                horizon,
                levels,
                x[mi, train],
                x[mi, stop[mi] : stop[mi] + horizon],
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
    ends = sub.sizes["time"] - 1 - lags(sub)
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
            + (combine, season_length, ends[g]),
        )
        for g in groups
    ]
    results = run_blocks(apply_block, blocks, client=client, prefix="apply")
    stacked = (
        np.concatenate([r[0] for r in results])
        if results
        else np.empty((0, 1 + 2 * len(levels), horizon))
    )
    families = [f for r in results for f in r[1]]
    origin = pd.DatetimeIndex(sub["time"].values[ends]) if markets else pd.DatetimeIndex([])
    placed, dates = on_dates(stacked, origin, pd.Timestamp(y["time"].values[-1]), horizon, freq)
    quantiles = [q for lv in levels for q in quantiles_of(lv)]
    bounds = placed[:, 1:, :].transpose(0, 2, 1)
    order = np.argsort(quantiles)
    return xr.Dataset(
        {
            "yhat": (("market", "time"), placed[:, 0, :]),
            "bounds": (("market", "time", "quantile"), bounds[:, :, order]),
            "family": ("market", np.array(families, dtype=str)),
        },
        coords={
            "market": np.array(markets, dtype=str),
            "time": dates,
            "quantile": np.round(np.asarray(quantiles)[order], 4),
            "origin": ("market", origin.to_numpy()),
        },
        attrs={"levels": json.dumps(list(levels)), "horizon": horizon},
    )


def on_dates(
    stacked: np.ndarray, origin: pd.DatetimeIndex, last: pd.Timestamp, horizon: int, freq: str
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Forecasts (market, column, step) put on the union of the markets' dates: (market, column, time).

    Market i's steps are the `horizon` periods after `origin[i]`; its cells outside them are
    NaN. Without markets the dates follow `last`.
    """
    if not len(origin):
        return stacked, pd.date_range(last, periods=horizon + 1, freq=freq)[1:]
    grid = pd.date_range(origin.min(), origin.max(), freq=freq)
    offset = grid.get_indexer(origin)
    if (offset < 0).any():
        raise ValueError(f"forecast origins {list(origin[offset < 0])} are not on the {freq} grid")
    dates = pd.date_range(origin.min(), periods=len(grid) + horizon, freq=freq)[1:]
    placed = np.full((stacked.shape[0], stacked.shape[1], len(dates)), np.nan)
    for i, k in enumerate(offset):
        placed[i, :, k : k + horizon] = stacked[i]
    return placed, dates


def to_table(fc: xr.Dataset, segment: str = "mature") -> pd.DataFrame:
    """The forecast as the file-contract table (`fcast.contract.forecast_columns`): market, date, yhat, bounds, family, segment, origin.

    `origin` is each market's last actual (the `origin` coord; NaT without one); a market's
    rows are the `horizon` dates after its origin (its cells outside them are dropped).
    """
    levels = json.loads(fc.attrs["levels"])
    yhat = fc["yhat"].reset_coords(drop=True)
    df = yhat.to_dataframe().reset_index().rename(columns={"time": "date"})
    bounds = [
        fc["bounds"].sel(quantile=q).values.ravel() for lv in levels for q in quantiles_of(lv)
    ]
    for col, values in zip(bound_columns(levels), bounds, strict=True):
        df[col] = values
    fam = dict(zip(fc["market"].values.tolist(), fc["family"].values.tolist(), strict=True))
    df["family"] = df["market"].map(fam)
    df["segment"] = segment
    df["origin"] = pd.NaT
    if "origin" in fc.coords:
        own = pd.Series(pd.DatetimeIndex(fc["origin"].values), index=fc["market"].values)
        df["origin"] = pd.DatetimeIndex(df["market"].map(own))
        horizon = int(fc.attrs.get("horizon", fc.sizes["time"]))
        inside = df["origin"].isna() | (df["date"] > df["origin"])
        df = df[inside].groupby("market", sort=False).head(horizon).reset_index(drop=True)
    return df[forecast_columns(levels)]

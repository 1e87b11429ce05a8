"""The proxy model: forecast new and pre-launch markets from look-alike launched markets.

1. Candidates: markets (not custom) whose launch curve is visible in the actuals from the
   launch period on, for at least `fcast.markets.curves.MIN_CURVE` periods. A market is never its own proxy.
2. Proxies: the numeric external features of the markets table go through a scikit-learn
   pipeline: log of skewed positive columns → StandardScaler → optional PCA → KMeans,
   fitted on the candidates. Distances are Euclidean in the scaled (PCA) space; with
   method `kmeans_knn` a candidate outside the target's cluster counts at `OUT_OF_CLUSTER`
   times its distance, with `knn` clusters are ignored. The `proxies` nearest candidates
   by that effective distance are kept, weighted ∝ 1 / effective distance (sum 1).
3. Launch curves (`fcast.markets.curves`): users per addressable population
   (`addressable_population` column when the table has one, else `population`) by periods
   since the launch period.
4. Forecast (the curves part is `fcast.markets.curves.curve_forecast`): each proxy curve is extended flat past its last known period and calibrated to
   the new market's own history: the level ratio over its last `CALIBRATION` periods applies
   in full at the last known period and its log fades (time constant `DECAY`) to
   n / (n + `SHRINK`) of itself for n periods of history. The calibrated curves are combined
   as a weighted geometric mean and scaled by the new market's size. Intervals: Student-t
   prediction interval on the weighted spread of the calibrated log curves (at least
   `fcast.markets.curves.MIN_DF` degrees of freedom). Before launch: 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fcast.core.apply import on_dates
from fcast.core.series import origins
from fcast.data.segment import launch_dates, source_of, validate_markets
from fcast.errors import DataError
from fcast.markets.curves import (
    curve_forecast,
    eligible_candidates,
    freq_of,
    launch_curves,
    periods_since,
    quantiles,
)
from fcast.markets.proxy_options import NewMarketsConfig

SIZE_COLUMNS = ("addressable_population", "population")
OUT_OF_CLUSTER = 2.0
FAMILY = "proxy"
PROXY_COLUMNS = ["market", "proxy", "weight", "distance", "cluster", "same_cluster", "calibration"]


# --- features and proxies ---------------------------------------------------------------


def feature_columns(markets: pd.DataFrame, features: Sequence[str] | None) -> list[str]:
    """The configured feature columns, or every numeric column of the table."""
    if features is None:
        return [str(c) for c in markets.select_dtypes("number").columns]
    missing = [c for c in features if c not in markets.columns]
    if missing:
        raise DataError(
            f"{source_of(markets)}: feature column(s) {missing} from new_markets.features not found; "
            f"found {list(markets.columns)}"
        )
    return list(features)


def feature_matrix(
    markets: pd.DataFrame, features: Sequence[str] | None, rows: Sequence[str]
) -> pd.DataFrame:
    """Numeric features of `rows` (market codes); clear errors for unknown markets and bad values."""
    source = source_of(markets)
    cols = feature_columns(markets, features)
    if not cols:
        raise DataError(
            f"{source}: no numeric feature column for the proxy model; found {list(markets.columns)}"
        )
    table = markets.set_index("market")
    unknown = [m for m in rows if m not in table.index]
    if unknown:
        raise DataError(
            f"{source}: no row for market(s) {unknown} (the proxy model needs their features)"
        )
    sub = table.loc[list(rows), cols].copy()
    for col in cols:
        values = pd.to_numeric(sub[col], errors="coerce")
        bad = values.isna()
        if bad.any():
            what = "non-numeric" if sub[col][bad].notna().any() else "missing"
            raise DataError(
                f"{source}: {what} values in column {col!r} for market(s) {list(sub.index[bad])}"
            )
        sub[col] = values.astype("float64")
    return sub


class LogSkewed(TransformerMixin, BaseEstimator):
    """Log of the columns that, when fitted, are positive and span more than a factor of 10."""

    def fit(self, x: np.ndarray, y: None = None) -> LogSkewed:
        """Decide which columns are skewed."""
        x = np.asarray(x, dtype="float64")
        self.skewed_ = (x.min(axis=0) > 0) & (x.max(axis=0) > 10 * x.min(axis=0))
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """log of the skewed columns (clipped at a tiny positive value), the others unchanged."""
        x = np.asarray(x, dtype="float64")
        return np.where(self.skewed_, np.log(np.clip(x, 1e-12, None)), x)


def proxy_pipeline(cfg: NewMarketsConfig, n_candidates: int, n_features: int) -> Pipeline:
    """LogSkewed → StandardScaler → optional PCA → KMeans (no KMeans for method knn)."""
    steps: list[tuple[str, object]] = [("log", LogSkewed()), ("scale", StandardScaler())]
    if cfg.pca:
        steps.append(
            ("pca", PCA(n_components=min(cfg.pca, n_features, n_candidates), random_state=0))
        )
    if cfg.method == "kmeans_knn":
        k = cfg.clusters or max(1, round(n_candidates / cfg.proxies))
        steps.append(("kmeans", KMeans(n_clusters=min(k, n_candidates), n_init=10, random_state=0)))
    return Pipeline(steps)


def inverse_distance_weights(distance: np.ndarray) -> np.ndarray:
    """Weights ∝ 1 / distance summing to 1; exact copies (distance 0) share all the weight."""
    d = np.asarray(distance, dtype="float64")
    w = (d <= 0).astype(float) if (d <= 0).any() else 1.0 / d
    return w / w.sum()


def _embed(
    cfg: NewMarketsConfig, x_cand: np.ndarray, x_target: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Scaled coordinates and clusters (-1 for knn) of candidates and targets."""
    with threadpool_limits(1):  # a few dozen rows: starting threads would dominate
        pipe = proxy_pipeline(cfg, len(x_cand), x_cand.shape[1]).fit(x_cand)
        if cfg.method != "kmeans_knn":
            return (
                pipe.transform(x_cand),
                pipe.transform(x_target),
                np.full(len(x_cand), -1),
                np.full(len(x_target), -1),
            )
        return (
            pipe[:-1].transform(x_cand),
            pipe[:-1].transform(x_target),
            pipe.predict(x_cand),
            pipe.predict(x_target),
        )


def _choose(dist: np.ndarray, same: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the `n` nearest by effective distance (other clusters count OUT_OF_CLUSTER times) and their weights."""
    effective = dist * np.where(same, 1.0, OUT_OF_CLUSTER)
    order = np.argsort(effective, kind="stable")[:n]
    return order, inverse_distance_weights(effective[order])


def find_proxies(
    features: pd.DataFrame, candidates: Sequence[str], targets: Sequence[str], cfg: NewMarketsConfig
) -> pd.DataFrame:
    """Weighted proxies per target: market, proxy, weight, distance, cluster, same_cluster."""
    candidates = list(candidates)
    if not candidates:
        raise DataError("no launched market with a visible launch curve can serve as a proxy")
    x_cand = feature_matrix(features, cfg.features, candidates).to_numpy()
    x_target = feature_matrix(features, cfg.features, targets).to_numpy()
    z_cand, z_target, c_cand, c_target = _embed(cfg, x_cand, x_target)
    with threadpool_limits(1):
        knn = NearestNeighbors(n_neighbors=len(candidates), algorithm="brute").fit(z_cand)
        dist, idx = knn.kneighbors(z_target)
    rows = []
    for ti, target in enumerate(targets):
        keep = np.array([candidates[i] != target for i in idx[ti]])  # never its own proxy
        near, d = idx[ti][keep], dist[ti][keep]
        if not len(near):
            raise DataError(f"no launched market other than {target} itself can serve as its proxy")
        same = c_cand[near] == c_target[ti]
        order, weights = _choose(d, same, cfg.proxies)
        for ci, di, wi, si in zip(near[order], d[order], weights, same[order], strict=True):
            rows.append((target, candidates[ci], float(wi), float(di), int(c_target[ti]), bool(si)))
    return pd.DataFrame(rows, columns=PROXY_COLUMNS[:-1])


# --- forecasting new markets ----------------------------------------------------------------


def size_column(markets: pd.DataFrame) -> str:
    """The market-size column: addressable_population when present, else population."""
    for col in SIZE_COLUMNS:
        if col in markets.columns:
            return col
    raise DataError(
        f"{source_of(markets)}: missing column 'population' (the proxy model scales launch curves by it)"
    )


def market_size(markets: pd.DataFrame, rows: Sequence[str]) -> pd.Series:
    """Addressable size per market; an error naming the markets without a positive number."""
    col = size_column(markets)
    size = pd.to_numeric(markets.set_index("market")[col], errors="coerce").reindex(list(rows))
    bad = size.isna() | (size <= 0)
    if bad.any():
        raise DataError(
            f"{source_of(markets)}: missing or non-positive {col!r} for market(s) {list(size.index[bad])}"
        )
    return size.astype("float64")


def usable(markets: pd.DataFrame, features: Sequence[str] | None, rows: Sequence[str]) -> list[str]:
    """The markets of `rows` with a table row, a positive size and every feature known."""
    table = markets.set_index("market")
    size = size_column(markets)
    cols = list(dict.fromkeys([*feature_columns(markets, features), size]))
    present = [m for m in rows if m in table.index]
    values = table.loc[present, cols].apply(pd.to_numeric, errors="coerce")
    ok = values.notna().all(axis=1) & (values[size] > 0)
    return [m for m in present if ok[m]]


def _weights_of(proxies: pd.DataFrame, market: str) -> xr.DataArray:
    """A market's proxy weights along `proxy`."""
    mine = proxies[proxies["market"] == market]
    return xr.DataArray(
        mine["weight"].to_numpy(), dims="proxy", coords={"proxy": mine["proxy"].to_numpy()}
    )


def _own_curve(curves: xr.DataArray, market: str) -> xr.DataArray:
    """A market's own curve, all NaN when it has no actuals (pre-launch)."""
    if market in curves["market"].values:
        return curves.sel(market=market, drop=True)
    return xr.full_like(curves.isel(market=0, drop=True), np.nan)


def _dataset(
    targets: list[str],
    origin: pd.DatetimeIndex,
    last: pd.Timestamp,
    stacked: np.ndarray,
    levels: Sequence[int],
    freq: str,
) -> xr.Dataset:
    """yhat(market, time), bounds(market, time, quantile), family and origin(market), as `fcast.core.apply.apply` has them.

    `stacked` is (market, column, step): the mean, then the bounds in `quantiles(levels)` order.
    Market i's steps are the periods after its own `origin[i]` (its last actual, else the
    panel's `last` period), placed on the union of the markets' dates like the applier's.
    """
    horizon = stacked.shape[2]
    placed, dates = on_dates(stacked, origin, last, horizon, freq)
    return xr.Dataset(
        {
            "yhat": (("market", "time"), placed[:, 0, :]),
            "bounds": (("market", "time", "quantile"), placed[:, 1:, :].transpose(0, 2, 1)),
            "family": ("market", np.array([FAMILY] * len(targets), dtype=str)),
        },
        coords={
            "market": np.array(targets, dtype=str),
            "time": dates,
            "quantile": quantiles(levels),
            "origin": ("market", origin.to_numpy()),
        },
        attrs={"levels": json.dumps(list(levels)), "horizon": horizon},
    )


def own_origins(y: xr.DataArray, targets: Sequence[str]) -> pd.DatetimeIndex:
    """Each target's last actual date; the panel's last period for one without actuals (pre-launch)."""
    present = [m for m in targets if m in y["market"].values]
    own = dict(zip(present, origins(y.sel(market=present)), strict=True))
    last = y["time"].values[-1]
    return pd.DatetimeIndex([own.get(m, last) for m in targets])


def forecast_new(
    y: xr.DataArray,
    markets: pd.DataFrame,
    segments: xr.DataArray,
    *,
    horizon: int,
    levels: Sequence[int],
    freq: str,
    cfg: NewMarketsConfig,
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Proxy forecasts of the `new` markets in the applier's format, and their proxies and weights.

    Each new market is forecast for the `horizon` periods after its own last actual (its
    `origin`), like a mature market under `data.ragged: per_market`.
    """
    table = validate_markets(markets)
    seg = segments.to_series()
    targets = seg.index[seg == "new"].astype(str).tolist()
    last = pd.Timestamp(y["time"].values[-1])
    if not targets:
        empty = np.empty((0, 1 + 2 * len(levels), horizon))
        return _dataset([], pd.DatetimeIndex([]), last, empty, levels, freq), pd.DataFrame(
            columns=PROXY_COLUMNS
        )
    origin = own_origins(y, targets)
    launch = launch_dates(y.to_dataset(name="y"), table)
    feature_matrix(table, cfg.features, targets)  # clear errors for targets without usable features
    pool = usable(
        table, cfg.features, [m for m in y["market"].values.astype(str) if seg.get(m) != "custom"]
    )
    size = market_size(table, list(dict.fromkeys(pool + targets)))
    weeks = {
        m: periods_since(pd.date_range(o, periods=horizon + 1, freq=freq)[1:], launch[m], freq)
        for m, o in zip(targets, origin, strict=True)
    }
    max_weeks = max(y.sizes["time"], *(int(w[-1]) + 1 for w in weeks.values()))
    in_y = [m for m in size.index if m in y["market"].values]
    curves = launch_curves(y.sel(market=in_y), launch, size, max_weeks, freq)
    proxies = find_proxies(table, eligible_candidates(curves.sel(market=pool)), targets, cfg)
    stacked, factors = [], []
    for m in targets:
        w = _weights_of(proxies, m)
        pc = curves.sel(market=w["proxy"].values).rename(market="proxy")
        mid, bnd, factor = curve_forecast(pc, w, _own_curve(curves, m), weeks[m], levels)
        stacked.append(np.vstack([mid.values[None, :], bnd.values.T]) * size[m])
        factors.extend(factor.sel(proxy=w["proxy"].values).values.tolist())
    proxies["calibration"] = factors
    return _dataset(targets, origin, last, np.stack(stacked), levels, freq), proxies


# --- backtest ---------------------------------------------------------------------------------


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error (percent) over the periods where both are known."""
    a, f = np.asarray(actual, dtype="float64"), np.asarray(forecast, dtype="float64")
    ok = np.isfinite(a) & np.isfinite(f) & (a > 0)
    return float(100.0 * np.mean(np.abs(f[ok] - a[ok]) / a[ok])) if ok.any() else float("nan")


def coverage(actual: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of periods whose actual lies inside [lo, hi]."""
    return float(np.mean((np.asarray(actual) >= lo) & (np.asarray(actual) <= hi)))


def last_value_growth(own: np.ndarray, steps: int, window: int = 13) -> np.ndarray:
    """Baseline: the last value plus its mean change over the last `window` periods per step (NaN without history)."""
    known = np.asarray(own, dtype="float64")
    known = known[np.isfinite(known)]
    if len(known) == 0:
        return np.full(steps, np.nan)
    lag = min(len(known) - 1, window)
    drift = (known[-1] - known[-1 - lag]) / lag if lag > 0 else 0.0
    return np.clip(known[-1] + drift * np.arange(1, steps + 1), 0.0, None)


def _uniform(markets: Sequence[str]) -> xr.DataArray:
    """Equal weights over `markets` along `proxy`."""
    return xr.DataArray(
        np.full(len(markets), 1.0 / len(markets)), dims="proxy", coords={"proxy": list(markets)}
    )


def _from_curves(
    curves: xr.DataArray, weights: xr.DataArray, own: xr.DataArray, weeks: np.ndarray, level: int
) -> tuple:
    """Point forecast and the level's bounds from the curves named by `weights`."""
    pc = curves.sel(market=weights["proxy"].values).rename(market="proxy")
    mid, bounds, _ = curve_forecast(pc, weights, own, weeks, [level])
    return mid.values, bounds.isel(quantile=0).values, bounds.isel(quantile=1).values


def _backtest_market(
    market: str,
    curves: xr.DataArray,
    others: list[str],
    weights: xr.DataArray,
    ks: Sequence[int],
    horizon: int,
) -> list[tuple]:
    """Errors of the proxy model and both baselines for one held-out market at each k."""
    full = curves.sel(market=market, drop=True)
    rows = []
    for k in ks:
        weeks = np.arange(k, k + horizon)
        own, truth = full.where(full["week"] < k), full.values[weeks]
        proxy, lo, hi = _from_curves(curves, weights, own, weeks, 80)
        baselines = {
            "global_curve": _from_curves(curves, _uniform(others), own, weeks, 80)[0],
            "last_value_growth": last_value_growth(own.values[:k], horizon),
        }
        rows.append((market, k, "proxy", mape(truth, proxy), coverage(truth, lo, hi)))
        rows.extend((market, k, name, mape(truth, fc), np.nan) for name, fc in baselines.items())
    return rows


def backtest(
    y: xr.DataArray,
    markets: pd.DataFrame,
    *,
    ks: Sequence[int] = (0, 4, 12, 26),
    horizon: int = 52,
    cfg: NewMarketsConfig,
    freq: str | None = None,
) -> pd.DataFrame:
    """Leave-one-out over launched markets: market, k, method, error (MAPE %), coverage (proxy 80% interval)."""
    table = validate_markets(markets)
    launch = launch_dates(y.to_dataset(name="y"), table)
    listed = usable(table, cfg.features, y["market"].values.astype(str).tolist())
    size = market_size(table, listed)
    curves = launch_curves(y.sel(market=listed), launch, size, y.sizes["time"], freq_of(y, freq))
    pool = eligible_candidates(curves)
    rows = []
    for market in eligible_candidates(curves, max(ks) + horizon):
        others = [m for m in pool if m != market]
        weights = _weights_of(find_proxies(table, others, [market], cfg), market)
        rows.extend(_backtest_market(market, curves, others, weights, ks, horizon))
    return pd.DataFrame(rows, columns=["market", "k", "method", "error", "coverage"])


def backtest_table(results: pd.DataFrame) -> pd.DataFrame:
    """Median error per method (rows) and k (columns), plus the median over every k (`all`)."""
    table = results.pivot_table(index="method", columns="k", values="error", aggfunc="median")
    table["all"] = results.groupby("method")["error"].median()
    table.columns = [f"k={c}" if c != "all" else c for c in table.columns]
    return table.round(1)


__all__ = [
    "NewMarketsConfig",
    "backtest",
    "backtest_table",
    "find_proxies",
    "forecast_new",
    "launch_curves",
    "market_size",
    "periods_since",
    "usable",
]

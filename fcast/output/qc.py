"""Quality control of the final forecast: a registry of checks with severities.

`run_qc` runs every registered check on the forecast table (file contract) and returns
the findings ``market, check, severity, detail``: one row per problem, plus one row per
check that found nothing (severity ``ok``) or could not run (``skipped``), so
``qc.parquet`` records what was checked. A check of severity ``error`` blocks publishing
the run as official unless the person publishing overrides it with a reason.

The built-in checks (y: actuals, m: season length, n = min(horizon, m), T: last actual):

| check | severity | fires when |
| --- | --- | --- |
| markets_present | error | an expected market has no forecast, or fewer periods than the others |
| finite | error | yhat or a bound is NaN or infinite |
| non_negative | error | yhat or a bound is below zero |
| intervals_ordered | error | not lo_95 <= lo_80 <= yhat <= hi_80 <= hi_95 (any levels) |
| starts_after_actuals | error | a market's first forecast date is not one period after its own last actual, or its `origin` is not that actual's date (markets without actuals are skipped) |
| origin_jump | error | abs(j - s) > jump_tolerance. Mature and custom markets compare 4-period medians, so one holiday week at the origin does not look like a jump: j = med(yhat_1..4) / med(y_(T-3..T)) - 1 and s = med(y_(T+1-m..T+4-m)) / med(y_(T-m-3..T-m)) - 1, the same step a season earlier (0 if unknown). Segment `new`: j = yhat_1 / y_T - 1 and s = the mean of y_t / y_(t-1) - 1 over the last min(13, n-1) periods (launch trend) |
| growth | warning | g = sum(yhat_1..n) / sum(y_(T-m+1)..y_(T-m+n)) - 1 lies outside [min G, max G] -+ growth_tolerance, G the market's rolling growth of n-period sums over m periods; needs m windows of history; markets of segment `new` are skipped |
| deviation | warning | abs(sum yhat / sum previous - 1) over the common dates > deviation_threshold |
| totals | warning | max over dates of abs(sum over markets of yhat / total - 1) > totals tolerance (2%) |

Extensions add checks with `register_qc(name, severity, fn)`, or by installing a package
with an entry point in the ``fcast.qc_checks`` group (a `QCCheck`, or a function whose
``severity`` attribute is the severity, ``warning`` when it has none): `run_qc` runs every
registered and installed check. `fn(ctx)` gets a `QCContext` and returns ``(market,
detail)`` pairs, or raises `SkipCheck` when it does not apply. Severities are the one
vocabulary of `fcast.contract`. The stage reads no file: the supplied totals come as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import Field

from fcast.contract import SEVERITIES, Severity, bound_columns, check_severity, levels_in
from fcast.contract import value_columns as contract_values
from fcast.core.series import lags
from fcast.data import season_length
from fcast.options import Options
from fcast.output.qc_formulas import (
    LEVEL,
    RECENT,  # noqa: F401 (re-exported)
    expected_step,
    forecast_growth,
    growth_range,
    mature_jumps,
)
from fcast.output.qc_views import Actuals, ForecastRows
from fcast.registry import Registry, RegistryError

Finding = tuple[str, str]
ALL = "*"
TOTAL = "TOTAL"
TOTALS_TOLERANCE = 0.02
COLUMNS = ["market", "check", "severity", "detail"]
#: what the severity column says of a check that found nothing, and of one that did not apply
PASSED, SKIPPED = "ok", "skipped"
#: the entry-point group installed checks come from
ENTRY_POINT_GROUP = "fcast.qc_checks"
LISTED = 10


class QCConfig(Options):
    """Quality checks on the final forecast before it can become official."""

    growth_tolerance: float = Field(
        0.5, ge=0, description="allowed excess over the historical growth range"
    )
    jump_tolerance: float = Field(
        0.25, ge=0, description="allowed relative jump at the forecast origin"
    )
    deviation_threshold: float = Field(
        0.2, ge=0, description="relative change vs the previous official forecast"
    )
    totals: str | None = Field(None, description="optional table of supplied totals (date, total)")


class SkipCheck(Exception):
    """Raised by a check that does not apply to this run (e.g. no previous forecast)."""


@dataclass
class QCContext:
    """Everything a check may look at; the per-market views are built once (`fcast.output.qc_views`)."""

    forecast: pd.DataFrame
    y: xr.DataArray | None
    expected_markets: list[str] | None
    previous: pd.DataFrame | None
    totals: pd.DataFrame | None
    cfg: QCConfig
    season_length: int

    def values(self) -> list[str]:
        """yhat and the bound columns of the forecast."""
        return contract_values(list(self.forecast.columns))

    @cached_property
    def rows(self) -> ForecastRows:
        """The forecast sorted by market and date, split once into each market's rows."""
        return ForecastRows(self.forecast)

    @cached_property
    def actuals(self) -> Actuals | None:
        """The actuals as one array with a market -> row index (None without actuals)."""
        return Actuals(self.y) if self.y is not None else None

    def series(self, market: str) -> np.ndarray:
        """A market's actuals from its first to its last observation (empty when it has none)."""
        return self.actuals.series(market) if self.actuals is not None else np.array([])

    def by_market(self) -> Iterable[tuple[str, pd.DataFrame]]:
        """The forecast rows of each market, sorted by date (split once per run; copy a frame to change it)."""
        yield from self.rows.frames


Check = Callable[[QCContext], Iterable[Finding]]


@dataclass(frozen=True)
class QCCheck:
    """A registered check: name, severity of its findings, the function."""

    name: str
    severity: Severity
    fn: Check


def _as_check(target: object, name: str) -> QCCheck:
    """An entry point's target as a check: a QCCheck, or a function (severity: its attribute, else warning)."""
    if isinstance(target, QCCheck):
        return QCCheck(name, check_severity(target.severity), target.fn)
    if not callable(target):
        raise TypeError(f"QC check entry point {name!r} is neither a QCCheck nor a function")
    return QCCheck(name, check_severity(getattr(target, "severity", "warning")), target)


QC_CHECKS: Registry[QCCheck] = Registry("QC check", ENTRY_POINT_GROUP, _as_check)


def register_qc(name: str, severity: Severity, fn: Check, *, replace: bool = False) -> QCCheck:
    """Add a check to the registry (an existing name needs replace=True)."""
    return QC_CHECKS.register(name, QCCheck(name, check_severity(severity), fn), replace=replace)


def check_names() -> list[str]:
    """The checks `run_qc` runs by default: the registered ones in order, then the installed ones."""
    return [*QC_CHECKS, *(n for n in QC_CHECKS.names() if n not in QC_CHECKS)]


def _pct(x: float) -> str:
    return f"{x:+.1%}"


# --- the built-in checks -------------------------------------------------------------------


def markets_present(ctx: QCContext) -> Iterable[Finding]:
    """Every expected market has a forecast, with as many periods as the longest one."""
    if ctx.expected_markets is None:
        raise SkipCheck("no list of expected markets")
    counts = ctx.forecast.groupby("market")["date"].nunique().to_dict()
    full = max(counts.values()) if counts else 0
    for market in ctx.expected_markets:
        if market not in counts:
            yield market, "no forecast for this market"
        elif counts[market] < full:
            yield market, f"{counts[market]} of {full} forecast periods"


def finite(ctx: QCContext) -> Iterable[Finding]:
    """No NaN or infinite value in yhat and its bounds."""
    cols = ctx.values()
    bad = ~np.isfinite(ctx.rows.array(cols))
    for market, span in ctx.rows.flagged(bad.any(axis=1)):
        own = bad[span]
        first = ctx.rows.dates[span][own.any(axis=1)][0]
        names = [c for c, b in zip(cols, own.any(axis=0), strict=True) if b]
        yield (
            market,
            f"{int(own.sum())} NaN or infinite value(s) in {', '.join(names)} (first {pd.Timestamp(first):%Y-%m-%d})",
        )


def non_negative(ctx: QCContext) -> Iterable[Finding]:
    """No negative value in yhat and its bounds."""
    vals = ctx.rows.array(ctx.values())
    bad = vals < 0
    for market, span in ctx.rows.flagged(bad.any(axis=1)):
        yield (
            market,
            f"{int(bad[span].sum())} negative value(s), lowest {np.nanmin(vals[span]):.6g}",
        )


def _interval_chain(columns: Sequence[str]) -> list[str]:
    """Columns in the order they must increase: widest low, ..., yhat, ..., widest high."""
    levels = levels_in(columns)
    lows = [bound_columns([lv])[0] for lv in reversed(levels)]
    highs = [bound_columns([lv])[1] for lv in levels]
    return [*lows, "yhat", *highs]


def intervals_ordered(ctx: QCContext) -> Iterable[Finding]:
    """Bounds nest around yhat: lo_95 <= lo_80 <= yhat <= hi_80 <= hi_95."""
    chain = _interval_chain(ctx.values())
    vals = ctx.rows.array(chain)
    tol = 1e-9 * np.maximum(1.0, np.abs(vals[:, :-1]))
    bad = vals[:, :-1] > vals[:, 1:] + tol
    for market, span in ctx.rows.flagged(bad.any(axis=1)):
        own, v = bad[span], vals[span]
        row, pair = np.argwhere(own)[0]
        when = pd.Timestamp(ctx.rows.dates[span][row])
        yield (
            market,
            (
                f"{int(own.any(axis=1).sum())} period(s) out of order, first {when:%Y-%m-%d}: "
                f"{chain[pair]} {v[row, pair]:.6g} > {chain[pair + 1]} {v[row, pair + 1]:.6g}"
            ),
        )


def starts_after_actuals(ctx: QCContext) -> Iterable[Finding]:
    """Each market's forecast starts one period after its own last actual, and `origin` says so."""
    if ctx.y is None or ctx.y.sizes.get("time", 0) < 3:
        raise SkipCheck("no actuals")
    time = pd.DatetimeIndex(ctx.y["time"].values)
    freq = pd.infer_freq(time)
    if freq is None:
        raise SkipCheck("the actuals' frequency cannot be told")
    markets = ctx.y["market"].values.astype(str)
    last = dict(zip(markets, time[len(time) - 1 - lags(ctx.y)], strict=True))
    seen = ctx.y.notnull().any("time").to_series().to_dict()
    firsts = list(ctx.rows.column_at_starts("date"))
    origins = list(ctx.rows.column_at_starts("origin")) if "origin" in ctx.forecast else None
    gaps: dict[tuple[pd.Timestamp, pd.Timestamp], int] = {}  # few distinct (end, first) pairs
    for i, market in enumerate(ctx.rows.markets):
        if market not in last or not seen[market]:
            continue  # pre-launch: no actuals to start after
        first, end = firsts[i], last[market]
        if (end, first) not in gaps:
            gaps[end, first] = len(pd.date_range(end, first, freq=freq)) - 1 if first > end else 0
        gap = gaps[end, first]
        if gap != 1:
            yield (
                market,
                (
                    f"forecast starts {first:%Y-%m-%d}, {gap} period(s) after its last actual "
                    f"{end:%Y-%m-%d} (expected 1)"
                ),
            )
        elif origins is not None and pd.Timestamp(origins[i]) != end:
            yield market, f"origin {origins[i]} is not its last actual {end:%Y-%m-%d}"


def _jump(y: np.ndarray, yhat: np.ndarray, m: int, launch: bool) -> float:
    """One market's relative move at the origin: 4-period medians when it has the history, else yhat_1 / y_T - 1."""
    if launch or not (m > LEVEL and len(y) >= m + LEVEL):
        return float(yhat[0]) / y[-1] - 1
    level = float(np.median(y[-LEVEL:]))
    return float(np.median(yhat[:LEVEL])) / level - 1 if level > 0 else float("nan")  # no basis


def origin_jump(ctx: QCContext) -> Iterable[Finding]:
    """The first forecast period moves from the last actual about as expected (season or launch trend)."""
    if ctx.y is None or ctx.actuals is None:
        raise SkipCheck("no actuals")
    tol, m, new = ctx.cfg.jump_tolerance, ctx.season_length, ctx.rows.all_equal("segment", "new")
    done, jumps, steps, lasts = mature_jumps(ctx.rows, ctx.actuals, m)
    for i, market, yhat in ctx.rows.each(ctx.rows.array(["yhat"])[:, 0]):
        launch = bool(new[i])
        if done[i] and not launch:  # the bulk: computed at once
            jump, step, last = jumps[i], steps[i], lasts[i]
            if last <= 0:
                continue
        else:
            y = ctx.series(market)
            if not len(y) or not np.isfinite(y[-1]) or y[-1] <= 0:
                continue
            jump, step, last = _jump(y, yhat, m, launch), expected_step(y, m, launch), y[-1]
        if not abs(jump - step) > tol:  # (a NaN jump is no finding)
            continue
        basis = (
            "recent growth per period (launch phase)"
            if launch
            else "the same step a season earlier"
        )
        yield (
            market,
            (
                f"first period {_pct(jump)} vs the last actual ({last:.6g}); expected {_pct(step)} "
                f"from {basis}; tolerance {tol:.0%}"
            ),
        )


def growth(ctx: QCContext) -> Iterable[Finding]:
    """Forecast growth within the market's historical growth range plus tolerance."""
    if ctx.y is None:
        raise SkipCheck("no actuals")
    m, tol, new = ctx.season_length, ctx.cfg.growth_tolerance, ctx.rows.all_equal("segment", "new")
    for i, market, yhat in ctx.rows.each(ctx.rows.array(["yhat"])[:, 0]):
        if new[i]:
            continue
        y = ctx.series(market)
        if not len(y):
            continue  # no actuals (a custom market, say): no history to compare with
        n = min(len(yhat), m)
        hist = growth_range(y, m, n)
        g = forecast_growth(y, yhat, m)
        if len(hist) < m or not np.isfinite(g):
            continue
        lo, hi = float(hist.min()), float(hist.max())
        if g < lo - tol or g > hi + tol:
            yield (
                market,
                (
                    f"growth {_pct(g)} over the first {n} periods vs a season earlier; historical range "
                    f"{_pct(lo)} .. {_pct(hi)}, tolerance {tol:.0%} points"
                ),
            )


def deviation(ctx: QCContext) -> Iterable[Finding]:
    """The forecast moved from the previous official one by more than the threshold."""
    if ctx.previous is None or ctx.previous.empty:
        raise SkipCheck("no previous official forecast")
    prev = ctx.previous[["market", "date", "yhat"]].rename(columns={"yhat": "prev"})
    prev["date"] = pd.to_datetime(prev["date"])
    both = ctx.forecast[["market", "date", "yhat"]].merge(prev, on=["market", "date"])
    both = ForecastRows(both, by=["market"])  # groupby's order: markets sorted, rows as merged
    vals = both.array(["yhat", "prev"])
    new, old = np.ascontiguousarray(np.where(np.isnan(vals), 0.0, vals).T)  # as Series.sum
    thr = ctx.cfg.deviation_threshold
    for market, a, b in zip(both.markets, both.starts, both.stops, strict=True):
        total = old[a:b].sum()
        if total <= 0:
            continue
        dev = new[a:b].sum() / total - 1
        if abs(dev) > thr:
            dates = both.table["date"].iloc[a:b]
            yield (
                market,
                (
                    f"{_pct(dev)} vs the previous official forecast over {b - a} common periods "
                    f"({dates.min():%Y-%m-%d} .. {dates.max():%Y-%m-%d}); threshold {thr:.0%}"
                ),
            )


def totals(ctx: QCContext) -> Iterable[Finding]:
    """The sum over markets matches the supplied total at every common date."""
    if ctx.totals is None or ctx.totals.empty:
        raise SkipCheck("no totals supplied")
    tol = float(getattr(ctx.cfg, "totals_tolerance", TOTALS_TOLERANCE))
    summed = ctx.forecast.groupby("date")["yhat"].sum().rename("sum").reset_index()
    both = summed.merge(ctx.totals.assign(date=pd.to_datetime(ctx.totals["date"])), on="date")
    if both.empty:
        raise SkipCheck("the totals share no date with the forecast")
    rel = both["sum"] / both["total"] - 1
    worst = int(np.argmax(np.abs(rel.to_numpy())))
    if abs(rel.iloc[worst]) > tol:
        row = both.iloc[worst]
        n_bad = int((rel.abs() > tol).sum())
        yield (
            TOTAL,
            (
                f"sum of markets differs from the supplied total in {n_bad} of {len(both)} periods; worst "
                f"{row['date']:%Y-%m-%d}: {row['sum']:.6g} vs {row['total']:.6g} ({_pct(rel.iloc[worst])}); "
                f"tolerance {tol:.0%}"
            ),
        )


for _name, _sev, _fn in (
    ("markets_present", "error", markets_present),
    ("finite", "error", finite),
    ("non_negative", "error", non_negative),
    ("intervals_ordered", "error", intervals_ordered),
    ("origin_jump", "error", origin_jump),
    ("starts_after_actuals", "error", starts_after_actuals),
    ("growth", "warning", growth),
    ("deviation", "warning", deviation),
    ("totals", "warning", totals),
):
    register_qc(_name, _sev, _fn)


# --- running -------------------------------------------------------------------------------


def _season_length(y: xr.DataArray | None) -> int:
    """Season length from the actuals' time coordinate (1 when it cannot be told)."""
    if y is None or y.sizes.get("time", 0) < 3:
        return 1
    freq = pd.infer_freq(pd.DatetimeIndex(y["time"].values))
    return season_length(freq) if freq else 1


def _row(market: str, check: str, severity: str, detail: str) -> dict[str, Any]:
    """One finding as a qc.parquet row."""
    return {"market": market, "check": check, "severity": severity, "detail": detail}


def _run_check(check: QCCheck, ctx: QCContext) -> list[dict[str, Any]]:
    """A check's findings as rows; 'ok' or 'skipped' rows when it found nothing."""
    try:
        found = list(check.fn(ctx))
    except SkipCheck as why:
        return [_row(ALL, check.name, SKIPPED, str(why))]
    except Exception as exc:  # a broken check must not pass silently: it blocks like an error
        return [_row(ALL, check.name, "error", f"check failed: {type(exc).__name__}: {exc}")]
    if not found:
        return [_row(ALL, check.name, PASSED, "passed")]
    return [_row(mk, check.name, check.severity, d) for mk, d in found]


def _run_named(name: str, ctx: QCContext) -> list[dict[str, Any]]:
    """Load a check by name and run it; an installed check that cannot be loaded is an error row."""
    try:
        check = QC_CHECKS.get(name)
    except RegistryError:
        raise
    except Exception as exc:  # a broken extension must not pass silently either
        return [_row(ALL, name, "error", f"check not loaded: {type(exc).__name__}: {exc}")]
    return _run_check(check, ctx)


def run_qc(
    forecast: pd.DataFrame,
    *,
    y: xr.DataArray | None = None,
    expected_markets: Sequence[str] | None = None,
    previous: pd.DataFrame | None = None,
    totals: pd.DataFrame | None = None,
    cfg: QCConfig | None = None,
    season_length: int | None = None,
    checks: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run the registered checks (or the named ones) on the final forecast: market, check, severity, detail."""
    fc = forecast.copy()
    fc["date"] = pd.to_datetime(fc["date"])
    fc["market"] = fc["market"].astype(str)
    ctx = QCContext(
        fc,
        y,
        list(expected_markets) if expected_markets is not None else None,
        previous,
        totals,
        cfg or QCConfig(),
        season_length or _season_length(y),
    )
    names = list(checks) if checks is not None else check_names()
    rows = [row for name in names for row in _run_named(name, ctx)]
    return pd.DataFrame(rows, columns=COLUMNS)


def problems(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings that are errors or warnings."""
    return findings[findings["severity"].isin(["error", "warning"])]


def has_errors(findings: pd.DataFrame) -> bool:
    """Whether any finding has severity 'error' (publishing as official then needs an override)."""
    return bool((findings["severity"] == "error").any())


def qc_summary(findings: pd.DataFrame) -> str:
    """A console summary: counts per severity, then the errors and warnings."""
    checks = findings["check"].nunique()
    count = {s: int((findings["severity"] == s).sum()) for s in SEVERITIES}
    skipped = sorted(set(findings.loc[findings["severity"] == SKIPPED, "check"]))
    head = f"QC: {checks} checks, {count['error']} error(s), {count['warning']} warning(s)"
    head += f"; skipped: {', '.join(skipped)}" if skipped else ""
    lines = [head]
    for sev in SEVERITIES:
        rows = findings[findings["severity"] == sev]
        lines += [
            f"  {sev:<7}  {r.check:<17} {r.market}: {r.detail}"
            for r in rows.head(LISTED).itertuples()
        ]
        if len(rows) > LISTED:
            lines.append(f"  ... and {len(rows) - LISTED} more {sev}(s) (see qc.parquet)")
    if count["error"]:
        lines.append("  errors block publishing as official unless overridden with a reason")
    return "\n".join(lines)

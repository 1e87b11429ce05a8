"""The formulas of the origin-jump and growth checks (`fcast.output.qc`), per market and over all.

`expected_step`, `growth_range` and `forecast_growth` take one market's actuals (and
forecast). `mature_jumps` is the origin jump and expected step of every market with a
full season and 4 periods more of history at once (the 4-period medians on gathered
windows), which is the bulk of the markets; `origin_jump` runs the per-market formulas
for the rest (launch phase, short histories).
"""

from __future__ import annotations

import numpy as np

from fcast.output.qc_views import Actuals, ForecastRows

RECENT = 13  # periods of launch-phase growth the origin-jump check expects to continue

LEVEL = 4  # periods in the medians that define the level on each side of the origin


def expected_step(y: np.ndarray, m: int, launch: bool) -> float:
    """Expected relative change of the level from the last actuals to the first forecast periods.

    Launch phase (segment new): the mean change per period over the last min(13, n-1)
    periods. Otherwise: the same step a season earlier between 4-period medians,
    med(y_(T+1-m..T+4-m)) / med(y_(T-m-3..T-m)) - 1 (0 if unknown).
    """
    if launch:
        recent = y[-min(RECENT, len(y) - 1) - 1 :]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = float(np.mean(recent[1:] / recent[:-1] - 1)) if len(recent) > 1 else 0.0
    elif m > LEVEL and len(y) >= m + LEVEL:
        before = np.median(y[len(y) - m - LEVEL : len(y) - m])
        after = np.median(y[len(y) - m : len(y) - m + LEVEL])
        step = after / before - 1 if before > 0 else 0.0
    else:
        step = y[-m] / y[-m - 1] - 1 if m > 1 and len(y) > m and y[-m - 1] > 0 else 0.0
    return step if np.isfinite(step) else 0.0


def growth_range(y: np.ndarray, m: int, n: int) -> np.ndarray:
    """Historical growth of n-period sums over m periods: G_t = sum(y_(t-n+1..t)) / sum(y_(t-m-n+1..t-m)) - 1."""
    sums = np.convolve(y, np.ones(n), mode="valid")
    if len(sums) <= m:
        return np.array([])
    prev, cur = sums[:-m], sums[m:]
    with np.errstate(divide="ignore", invalid="ignore"):
        g = cur / prev - 1
    return g[np.isfinite(g) & (prev > 0)]


def forecast_growth(y: np.ndarray, yhat: np.ndarray, m: int) -> float:
    """Growth of the first n = min(h, m) forecast periods over the same periods a season earlier."""
    n = min(len(yhat), m)
    before = y[len(y) - m : len(y) - m + n]
    return (
        float(np.sum(yhat[:n]) / np.sum(before) - 1)
        if len(before) == n and np.sum(before) > 0
        else np.nan
    )


def _windows(values: np.ndarray, rows: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """values[rows[i], ends[i] - LEVEL + 1 .. ends[i]] for each i: (len(rows), LEVEL)."""
    cols = ends[:, None] - LEVEL + 1 + np.arange(LEVEL)
    return values[rows[:, None], cols]


def mature_jumps(
    rows: ForecastRows, actuals: Actuals, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(done, jump, step, last actual) per market of `rows`, computed at once where the 4-period medians apply.

    done: the market has actuals, m > 4, at least m + 4 periods from its first to its last
    observation, 4 forecast periods and a nonzero med(y_(T-3..T)); for those,
    jump = med(yhat_1..4) / med(y_(T-3..T)) - 1 and step = `expected_step` (not launch).
    The caller skips launch-phase markets.
    """
    n = len(rows)
    done, jump, step, last = (np.zeros(n, bool), *np.full((3, n), np.nan))
    if m <= LEVEL or not n:
        return done, jump, step, last
    r = np.array([actuals.row.get(market, -1) for market in rows.markets])
    known = np.where(r >= 0, r, 0)
    span = actuals.last[known] - actuals.first[known] + 1
    done = (r >= 0) & actuals.seen[known] & (span >= m + LEVEL)
    done &= rows.stops - rows.starts >= LEVEL
    k = np.flatnonzero(done)
    level = np.median(_windows(actuals.values, known[k], actuals.last[known[k]]), axis=1)
    done[k[level == 0]] = False  # a zero level: left to the scalar formula (no finding)
    k, level = k[level != 0], level[level != 0]
    at, ends = known[k], actuals.last[known[k]]
    head = rows.array(["yhat"])[rows.starts[k, None] + np.arange(LEVEL), 0]
    jump[k] = np.median(head, axis=1) / level - 1
    before = np.median(_windows(actuals.values, at, ends - m), axis=1)
    after = np.median(_windows(actuals.values, at, ends - m + LEVEL), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(before > 0, after / before - 1, 0.0)
    step[k] = np.where(np.isfinite(s), s, 0.0)
    last[k] = actuals.values[at, ends]
    return done, jump, step, last

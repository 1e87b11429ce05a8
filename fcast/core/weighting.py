"""Member weights learned from the CV error cube: the `select.weighting` strategies.

A market's combination (`combine: mean` or `median`) pools its top-X members; a weighting
decides how much each member counts, from the members' CV forecasts and errors of that
market. One record per strategy in `WEIGHTINGS`; every `fit` takes one market's arrays and
returns weights that are >= 0 and sum to 1:

| name | weights |
| --- | --- |
| `equal` | 1/X each (the plain mean or median) |
| `inverse_error` | proportional to 1 / CV score, mixed half and half with equal weights |
| `stacked` | L1 stacking: the simplex weights whose combined CV forecast has the lowest scaled absolute error over all splits and steps, shrunk 80% towards equal weights |

With `combine: median` the weights enter a weighted median (the value where the cumulative
weight of the sorted members reaches one half), which with equal weights is the plain
median. `select.weighting` may list several strategies; the selector then keeps the one
whose combined forecast scores best on the final holdout (or, without a holdout, on the
newest CV split with weights learned from the older ones), pooled over markets, so a
strategy that only fits the CV windows better does not get chosen.

The shrinkage constants were set on Tourism quarterly's holdout windows, never on test data
(`benchmarks/README.md`, selector study).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: fit(yhat (split, member, step), y (split, step), scale (split,), cv_score (member,)) -> weights (member,)
Fit = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Weighting:
    """A weighting strategy: its name, what it does, and its per-market fit."""

    name: str
    doc: str
    fit: Fit
    needs_forecasts: bool = False  # True: fit reads yhat and y; False: only cv_score


def equal_weights(n: int) -> np.ndarray:
    """1/n each."""
    return np.full(n, 1.0 / n) if n else np.zeros(0)


INVERSE_SHRINK = 0.5
STACK_SHRINK = 0.8


def fit_equal(
    yhat: np.ndarray, y: np.ndarray, scale: np.ndarray, cv_score: np.ndarray
) -> np.ndarray:
    """Equal weights."""
    return equal_weights(len(cv_score))


def fit_inverse_error(
    yhat: np.ndarray, y: np.ndarray, scale: np.ndarray, cv_score: np.ndarray
) -> np.ndarray:
    """Weights proportional to 1 / CV score, mixed with equal weights (INVERSE_SHRINK)."""
    s = np.asarray(cv_score, dtype=float)
    n = len(s)
    if n == 0:
        return np.zeros(0)
    if not np.all(np.isfinite(s)) or np.any(s <= 0):
        if np.any(s == 0):  # a perfect member: it takes the inverse-error share
            raw = (s == 0).astype(float)
        else:
            return equal_weights(n)
    else:
        raw = 1.0 / s
    w = raw / raw.sum()
    return (1 - INVERSE_SHRINK) * w + INVERSE_SHRINK * equal_weights(n)


def l1_simplex(F: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """argmin_w sum |y - F w| with w >= 0, sum w = 1 (F: points x members), by linear programming; None if it fails."""
    from scipy import sparse
    from scipy.optimize import linprog

    n, k = F.shape
    c = np.concatenate([np.zeros(k), np.ones(2 * n)])
    eye = sparse.identity(n, format="csr")
    rows = sparse.hstack([sparse.csr_matrix(F), eye, -eye])
    total = sparse.hstack([sparse.csr_matrix(np.ones((1, k))), sparse.csr_matrix((1, 2 * n))])
    res = linprog(
        c,
        A_eq=sparse.vstack([rows, total]).tocsr(),
        b_eq=np.concatenate([y, [1.0]]),
        bounds=(0, None),
        method="highs",
    )
    if not res.success:
        return None
    w = np.clip(res.x[:k], 0.0, None)
    return w / w.sum() if w.sum() > 0 else None


def fit_stacked(
    yhat: np.ndarray, y: np.ndarray, scale: np.ndarray, cv_score: np.ndarray
) -> np.ndarray:
    """L1 stacking over the splits where every member has a forecast, shrunk towards equal (STACK_SHRINK)."""
    n = yhat.shape[1]
    if n <= 1:
        return equal_weights(n)
    rows, targets = [], []
    for s in range(yhat.shape[0]):
        F = yhat[s].T  # step x member
        if not (np.isfinite(scale[s]) and scale[s] > 0):
            continue
        ok = np.all(np.isfinite(F), axis=1) & np.isfinite(y[s])
        if not ok.any():
            continue
        rows.append(F[ok] / scale[s])
        targets.append(y[s][ok] / scale[s])
    if not rows:
        return equal_weights(n)
    w = l1_simplex(np.concatenate(rows), np.concatenate(targets))
    if w is None:
        return equal_weights(n)
    return (1 - STACK_SHRINK) * w + STACK_SHRINK * equal_weights(n)


WEIGHTINGS: dict[str, Weighting] = {}


def register(weighting: Weighting) -> Weighting:
    """Add a weighting strategy (one record per name)."""
    WEIGHTINGS[weighting.name] = weighting
    return weighting


register(Weighting("equal", "1/X each: the plain mean or median", fit_equal))
register(
    Weighting(
        "inverse_error",
        "proportional to 1/CV score, half-way shrunk to equal weights",
        fit_inverse_error,
    )
)
register(
    Weighting(
        "stacked",
        "L1 stacking of the CV forecasts on the simplex, 80% shrunk to equal weights",
        fit_stacked,
        needs_forecasts=True,
    )
)


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pointwise weighted median over axis 0 of `values` (members x ...), weights (members,).

    The smallest value whose cumulative weight (members sorted by value) reaches one half;
    where the cumulative weight is exactly one half, the mean of that value and the next
    one. Equal weights give `np.median`.
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or len(w) != v.shape[0]:
        raise ValueError(
            f"weights must have one value per member ({v.shape[0]}), got shape {w.shape}"
        )
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    if np.allclose(w, w[0]):
        return np.median(v, axis=0)
    keep = w > 0
    v, w = v[keep], w[keep] / w[keep].sum()
    order = np.argsort(v, axis=0, kind="stable")
    vs = np.take_along_axis(v, order, axis=0)
    ws = w[order]
    cum = np.cumsum(ws, axis=0)
    tol = 1e-12
    idx = np.argmax(cum >= 0.5 - tol, axis=0)
    lower = np.take_along_axis(vs, idx[None], axis=0)[0]
    at_half = np.abs(np.take_along_axis(cum, idx[None], axis=0)[0] - 0.5) <= tol
    nxt = np.take_along_axis(vs, np.minimum(idx + 1, len(w) - 1)[None], axis=0)[0]
    return np.where(at_half, 0.5 * (lower + nxt), lower)

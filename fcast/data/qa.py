"""Input QA: a registry of checks on the raw actuals table and on the cube built from it.

QA runs on the raw table first, because building the cube (`fcast.data.to_cube`) stops at
the first problem; QA lists them all. Markets with an error are left out of the cube; the
cube-level checks then run on the rest. Severities are the one vocabulary of
`fcast.contract` (``error | warning | info``): `error` findings stop a run before any
compute, `warning` and `info` findings are reported (with `qa.fail_on_warning: true` every
warning becomes an error; the former key `qa.fail_on_warn` is still read).

Checks live in `CHECKS`, a `fcast.registry.Registry`: `register_check` adds one, and an
installed package adds one through the entry point group ``fcast.qa_checks`` (the target
is a `Check`, or a function of no arguments returning one); installed checks run with the
built-in ones.

| check | severity | level | fires when |
| --- | --- | --- | --- |
| columns | error | table | the market, date or value column is missing |
| empty | error | table | the table has no rows |
| invalid | error | table | a blank market, an unparseable date or a non-numeric value |
| duplicates | error | table | a (market, date) pair appears more than once |
| misaligned | error | table | a date is not on the frequency's grid (e.g. not a Monday for W-MON) |
| missing_periods | error | table | a market skips periods between its first and last date |
| nan | error | table | a value is missing |
| negative | error | table | a value is below zero |
| zero | warning | table | a value is exactly zero |
| market_appeared | warning | table | a market is not in the previous run |
| market_disappeared | warning | table | a market of the previous run is missing |
| stale | warning | cube | a market's last period lags the run date by more than `qa.stale_after` periods |
| jump | warning | cube | the robust z-score of a period-over-period change exceeds `qa.jump_z` |
| short_history | warning | cube | a market has less history than the CV design needs (it is handled as new) |

Jumps: ``d[t] = log y[t] - log y[t-1]``; the deviation from the median change of the 9
surrounding periods (so launch ramps and trends are not jumps) divided by 1.4826 x its
median absolute deviation over the market. Changes into or out of a period holding a
public holiday (when the market is a country known to the `holidays` package) are exempt.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import AliasChoices, Field

from fcast.contract import SEVERITIES, Severity, check_severity
from fcast.data import history_length, to_cube
from fcast.data.calendar import holiday_periods
from fcast.errors import DataError
from fcast.options import Options
from fcast.registry import Registry

Level = Literal["table", "cube"]
FINDING_COLUMNS = ["market", "check", "severity", "first", "last", "detail"]
SHOWN = 5
JUMP_WINDOW = 9


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

    @property
    def fail_on_warn(self) -> bool:
        """The former name of `fail_on_warning`."""
        return self.fail_on_warning


@dataclass(frozen=True)
class QAInput:
    """What the checks see: the normalized table, the run settings and (for cube checks) the cube."""

    table: pd.DataFrame  # market, date, value, row problems: bad_market, bad_date, bad_value
    value: str
    freq: str
    qa: QAConfig
    min_history: int
    as_of: pd.Timestamp | None = None
    previous_markets: list[str] | None = None
    columns: list[str] = field(default_factory=list)
    cube: xr.Dataset | None = None


CheckFn = Callable[[QAInput], list[dict]]


@dataclass(frozen=True)
class Check:
    """A named check with its severity; `fn` returns findings (market, first, last, detail)."""

    name: str
    severity: Severity
    fn: CheckFn
    level: Level = "cube"
    description: str = ""


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
) -> Check:
    """Add a check to the registry (extensions call this too; an existing name needs replace=True)."""
    if severity == "warn":  # the former QA spelling
        warnings.warn("QA severity 'warn' is now 'warning'", DeprecationWarning, stacklevel=2)
        severity = "warning"
    check_severity(severity)
    if level not in ("table", "cube"):
        raise ValueError(f"level must be 'table' or 'cube', got {level!r}")
    check = Check(name, severity, fn, level, description or (fn.__doc__ or "").strip())
    return CHECKS.register(name, check, replace=replace)


def all_checks() -> list[str]:
    """Names of the registered checks, in order, then the installed ones not loaded yet."""
    registered = list(CHECKS)
    return registered + [n for n in CHECKS.names() if n not in registered]


@dataclass(frozen=True)
class QAResult:
    """Findings (market, check, severity, first, last, detail) and the cube of the markets that passed."""

    findings: pd.DataFrame
    cube: xr.Dataset | None
    source: str = ""

    @property
    def errors(self) -> pd.DataFrame:
        """The findings that stop a run."""
        return self.findings[self.findings["severity"] == "error"]

    @property
    def warnings(self) -> pd.DataFrame:
        """The findings that are reported only."""
        return self.findings[self.findings["severity"] == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing stops the run."""
        return self.errors.empty and self.cube is not None

    def raise_for_errors(self) -> None:
        """Raise DataError with the summary when a finding is an error."""
        if not self.ok:
            raise DataError(f"{self.source or 'actuals'}: input QA failed\n{summary(self.errors)}")


# --- helpers ---------------------------------------------------------------------------


def _dates(values: pd.Series | pd.DatetimeIndex) -> str:
    """The first few dates as text, and how many more."""
    text = [str(d)[:10] for d in values]
    more = len(text) - SHOWN
    return ", ".join(text[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def _finding(market: str, dates: pd.Series | pd.DatetimeIndex, detail: str) -> dict:
    """One finding spanning the given dates."""
    valid = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates), errors="coerce")).dropna()
    first = valid.min() if len(valid) else pd.NaT
    last = valid.max() if len(valid) else pd.NaT
    return {"market": market, "first": first, "last": last, "detail": detail}


def _rows(df: pd.DataFrame, mask: pd.Series, what: str) -> list[dict]:
    """One finding per market for the flagged rows: how many and which dates."""
    out = []
    for market, grp in df[mask].groupby("market", sort=True):
        out.append(
            _finding(
                str(market),
                grp["date"],
                f"{len(grp)} {what}: {_dates(grp['date'].dropna().sort_values())}",
            )
        )
    return out


def _valid(inp: QAInput) -> pd.DataFrame:
    """Rows with a market and a parseable date."""
    t = inp.table
    return t[~t["bad_market"] & ~t["bad_date"]]


def normalize(raw: pd.DataFrame, value: str) -> pd.DataFrame:
    """market, date, value as typed columns plus flags for rows that cannot be read."""
    market = raw["market"]
    bad_market = market.isna() | (market.astype(str).str.strip() == "")
    dates = pd.to_datetime(raw["date"], errors="coerce")
    values = pd.to_numeric(raw[value], errors="coerce")
    return pd.DataFrame(
        {
            "market": market.astype(str).str.strip().where(~bad_market, ""),
            "date": dates,
            "value": values.astype("float64"),
            "bad_market": bad_market.to_numpy(),
            "bad_date": (dates.isna() & ~bad_market).to_numpy(),
            "bad_value": (values.isna() & raw[value].notna()).to_numpy(),
        },
        index=raw.index,
    )


# --- table checks ------------------------------------------------------------------------


def check_columns(inp: QAInput) -> list[dict]:
    """The market, date and value columns exist."""
    missing = [c for c in ("market", "date", inp.value) if c not in inp.columns]
    if not missing:
        return []
    return [
        _finding(
            "*",
            [],
            f"missing column(s) {missing}; found {inp.columns} "
            f"(expected market, date and the value column {inp.value!r} from data.value)",
        )
    ]


def check_empty(inp: QAInput) -> list[dict]:
    """The table has rows."""
    return [] if len(inp.table) else [_finding("*", [], "the actuals table has no rows")]


def check_invalid(inp: QAInput) -> list[dict]:
    """Every row has a market, a parseable date and a numeric value."""
    t = inp.table
    out = []
    if t["bad_market"].any():
        rows = t.index[t["bad_market"]].tolist()
        out.append(_finding("*", [], f"{len(rows)} rows without a market (rows {rows[:SHOWN]})"))
    for market, grp in t[t["bad_date"]].groupby("market", sort=True):
        out.append(
            _finding(
                str(market), [], f"{len(grp)} unparseable dates (rows {grp.index.tolist()[:SHOWN]})"
            )
        )
    out += _rows(
        t, t["bad_value"] & ~t["bad_market"] & ~t["bad_date"], f"non-numeric {inp.value!r} values"
    )
    return out


def check_duplicates(inp: QAInput) -> list[dict]:
    """Each (market, date) appears once."""
    t = _valid(inp)
    return _rows(t, t.duplicated(["market", "date"], keep=False), "duplicated dates")


def _on_grid(dates: pd.Series, freq: str) -> pd.Series:
    """Whether each date sits on the frequency's grid."""
    offset = pd.tseries.frequencies.to_offset(freq)
    return dates.map(offset.is_on_offset).astype(bool)


def check_misaligned(inp: QAInput) -> list[dict]:
    """Every date is on the frequency's grid."""
    t = _valid(inp)
    off = ~_on_grid(t["date"], inp.freq)
    return _rows(t, off, f"dates off the {inp.freq} grid")


def check_missing_periods(inp: QAInput) -> list[dict]:
    """No market skips a period between its first and last date."""
    t = _valid(inp)
    t = t[_on_grid(t["date"], inp.freq)]
    out = []
    for market, grp in t.groupby("market", sort=True):
        dates = pd.DatetimeIndex(grp["date"].unique()).sort_values()
        gaps = pd.date_range(dates[0], dates[-1], freq=inp.freq).difference(dates)
        if len(gaps):
            out.append(_finding(str(market), gaps, f"{len(gaps)} missing periods: {_dates(gaps)}"))
    return out


def check_nan(inp: QAInput) -> list[dict]:
    """Every value is present."""
    t = _valid(inp)
    return _rows(t, t["value"].isna() & ~t["bad_value"], f"missing {inp.value!r} values")


def check_negative(inp: QAInput) -> list[dict]:
    """No value is negative."""
    t = _valid(inp)
    return _rows(t, t["value"] < 0, f"negative {inp.value!r} values")


def check_zero(inp: QAInput) -> list[dict]:
    """No value is exactly zero (a possible outage or a tracking gap)."""
    t = _valid(inp)
    return _rows(t, t["value"] == 0, f"zero {inp.value!r} values")


def _markets(inp: QAInput) -> set[str]:
    """Markets named in the table."""
    return set(_valid(inp)["market"].unique().tolist())


def check_market_appeared(inp: QAInput) -> list[dict]:
    """Markets that were not in the previous run."""
    if inp.previous_markets is None:
        return []
    t = _valid(inp)
    new = sorted(_markets(inp) - set(inp.previous_markets))
    return [_finding(m, t.loc[t["market"] == m, "date"], "not in the previous run") for m in new]


def check_market_disappeared(inp: QAInput) -> list[dict]:
    """Markets of the previous run that are missing now."""
    if inp.previous_markets is None:
        return []
    gone = sorted(set(inp.previous_markets) - _markets(inp))
    return [_finding(m, [], "in the previous run but not in the actuals") for m in gone]


# --- cube checks -------------------------------------------------------------------------


def _last_observed(y: xr.DataArray) -> pd.Series:
    """Each market's last observed period."""
    times = pd.DatetimeIndex(y["time"].values)
    observed = y.notnull().values
    last = observed.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1)
    return pd.Series(times[last], index=y["market"].values.tolist())


def check_stale(inp: QAInput) -> list[dict]:
    """Each market's last period is recent enough for the run date."""
    y = inp.cube["y"]
    last = _last_observed(y)
    offset = pd.tseries.frequencies.to_offset(inp.freq)
    as_of = pd.Timestamp(inp.as_of) if inp.as_of is not None else last.max()
    current = offset.rollback(as_of.normalize())
    out = []
    for market, end in last.items():
        lag = len(pd.date_range(end, current, freq=inp.freq)) - 1
        if lag > inp.qa.stale_after:
            out.append(
                _finding(
                    market,
                    [end],
                    f"last period {str(end)[:10]} is {lag} periods before "
                    f"{str(current)[:10]} (allowed: {inp.qa.stale_after}, qa.stale_after)",
                )
            )
    return out


def jump_scores(values: np.ndarray, holiday: np.ndarray | None = None) -> np.ndarray:
    """Robust z-score of each period-over-period log change against the local median change."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.where(values > 0, np.log(values), np.nan)
    d = np.r_[np.nan, np.diff(logy)]
    if holiday is not None:
        d[holiday | np.r_[False, holiday[:-1]]] = np.nan
    local = pd.Series(d).rolling(JUMP_WINDOW, center=True, min_periods=3).median().to_numpy()
    dev = d - local
    ok = np.isfinite(dev)
    if ok.sum() < JUMP_WINDOW:
        return np.full(len(values), np.nan)
    scale = 1.4826 * np.median(np.abs(dev[ok] - np.median(dev[ok])))
    return dev / scale if scale > 0 else np.full(len(values), np.nan)


def check_jump(inp: QAInput) -> list[dict]:
    """Period-over-period changes far outside the market's usual changes."""
    y = inp.cube["y"]
    times = pd.DatetimeIndex(y["time"].values)
    out = []
    for market in y["market"].values.tolist():
        values = y.sel(market=market).values
        z = jump_scores(values, holiday_periods(market, times))
        hits = np.flatnonzero(np.nan_to_num(np.abs(z)) > inp.qa.jump_z)
        if hits.size:
            change = [
                f"{str(times[i])[:10]} ({100 * (values[i] / values[i - 1] - 1):+.0f}%, z {z[i]:+.0f})"
                for i in hits
            ]
            out.append(
                _finding(market, times[hits], f"{hits.size} jumps: {', '.join(change[:SHOWN])}")
            )
    return out


def check_short_history(inp: QAInput) -> list[dict]:
    """Markets with less history than the CV design needs (they are handled as new markets)."""
    y = inp.cube["y"]
    history = history_length(y)
    last = _last_observed(y)
    out = []
    for market, n in zip(y["market"].values.tolist(), history.values.tolist(), strict=True):
        if n < inp.min_history:
            first = last[market] - (n - 1) * pd.tseries.frequencies.to_offset(inp.freq)
            out.append(
                _finding(
                    market,
                    [first, last[market]],
                    f"{n} periods of history, the CV design needs {inp.min_history}; handled as a new market",
                )
            )
    return out


for _name, _sev, _fn, _level in (
    ("columns", "error", check_columns, "table"),
    ("empty", "error", check_empty, "table"),
    ("invalid", "error", check_invalid, "table"),
    ("duplicates", "error", check_duplicates, "table"),
    ("misaligned", "error", check_misaligned, "table"),
    ("missing_periods", "error", check_missing_periods, "table"),
    ("nan", "error", check_nan, "table"),
    ("negative", "error", check_negative, "table"),
    ("zero", "warning", check_zero, "table"),
    ("market_appeared", "warning", check_market_appeared, "table"),
    ("market_disappeared", "warning", check_market_disappeared, "table"),
    ("stale", "warning", check_stale, "cube"),
    ("jump", "warning", check_jump, "cube"),
    ("short_history", "warning", check_short_history, "cube"),
):
    register_check(_name, _sev, _fn, level=_level)


# --- running -----------------------------------------------------------------------------


def _run(checks: list[Check], inp: QAInput) -> list[dict]:
    """Findings of the given checks, tagged with check name and severity."""
    rows = []
    for check in checks:
        rows += [{**f, "check": check.name, "severity": check.severity} for f in check.fn(inp)]
    return rows


def _frame(rows: list[dict], fail_on_warning: bool) -> pd.DataFrame:
    """Findings as a table; warnings become errors with fail_on_warning."""
    df = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    df["first"] = pd.to_datetime(df["first"])
    df["last"] = pd.to_datetime(df["last"])
    if fail_on_warning:
        warn = df["severity"] == "warning"
        df.loc[warn, "detail"] = (
            df.loc[warn, "detail"] + " [warning treated as error: qa.fail_on_warning]"
        )
        df.loc[warn, "severity"] = "error"
    return df.reset_index(drop=True)


def _passing_cube(inp: QAInput, rows: list[dict], source: str) -> xr.Dataset | None:
    """The cube of the markets without table errors, or None when no cube can be built."""
    failed = {r["market"] for r in rows if r["severity"] == "error"}
    if "*" in failed and any(r["check"] in ("columns", "empty") for r in rows):
        return None
    t = _valid(inp)
    t = t[~t["market"].isin(failed)]
    if t.empty:
        return None
    table = t[["market", "date", "value"]].rename(columns={"value": inp.value})
    return to_cube(table, inp.freq, value=inp.value, source=source)


def run_qa(
    table: pd.DataFrame,
    *,
    value: str,
    freq: str,
    source: str,
    qa: QAConfig,
    min_history: int,
    as_of: pd.Timestamp | None = None,
    previous_markets: list[str] | None = None,
    checks: list[str] | None = None,
) -> QAResult:
    """Run the registered checks on a raw actuals table and on the cube built from the rows that pass."""
    chosen = [CHECKS.get(c) for c in (checks or all_checks())]
    columns = [str(c) for c in table.columns]
    inp = QAInput(pd.DataFrame(), value, freq, qa, min_history, as_of, previous_markets, columns)
    rows = _run([CHECKS.get("columns")], inp)
    if rows:
        return QAResult(_frame(rows, qa.fail_on_warning), None, source)
    inp = replace(inp, table=normalize(table, value))
    rows = _run([c for c in chosen if c.level == "table" and c.name != "columns"], inp)
    cube = _passing_cube(inp, rows, source)
    if cube is not None:
        rows += _run([c for c in chosen if c.level == "cube"], replace(inp, cube=cube))
    return QAResult(_frame(rows, qa.fail_on_warning), cube, source)


def summary(findings: pd.DataFrame) -> str:
    """A readable console summary: counts per check and severity, and the first few markets."""
    if findings.empty:
        return "QA: no findings"
    n_err = int((findings["severity"] == "error").sum())
    n_warn = int((findings["severity"] == "warning").sum())
    markets = findings.loc[findings["market"] != "*", "market"].nunique()
    lines = [f"QA: {n_err} error(s), {n_warn} warning(s) in {markets} market(s)"]
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    groups = sorted(
        findings.groupby(["severity", "check"], sort=False),
        key=lambda g: (order.get(g[0][0], 2), g[0][1]),
    )
    for (severity, check), grp in groups:
        shown = [
            f"{r.market} ({r.detail})" if len(grp) <= 2 else str(r.market)
            for r in grp.head(SHOWN).itertuples()
        ]
        more = f" and {len(grp) - SHOWN} more" if len(grp) > SHOWN else ""
        lines.append(f"  {severity:<7} {check:<18} {len(grp):>3}: {'; '.join(shown)}{more}")
    return "\n".join(lines)


__all__ = [
    "CHECKS",
    "FINDING_COLUMNS",
    "Check",
    "QAConfig",
    "QAInput",
    "QAResult",
    "all_checks",
    "register_check",
    "run_qa",
    "summary",
]

"""Running QA: the chosen checks on the table, the cube of the markets that pass, the findings."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import xarray as xr

from fcast.contract import SEVERITIES
from fcast.data import to_cube
from fcast.data.blockwise import BlockMap, market_blocks, serial
from fcast.data.qa.base import (
    CHECKS,
    FINDING_COLUMNS,
    SHOWN,
    Check,
    QAConfig,
    QAInput,
    all_checks,
    normalize,
    valid_rows,
)
from fcast.data.qa.checks import fill_gaps
from fcast.errors import DataError


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


def _run(checks: list[Check], inp: QAInput) -> list[dict]:
    """Findings of the given checks, tagged with check name and severity."""
    rows = []
    for check in checks:
        rows += [{**f, "check": check.name, "severity": check.severity} for f in check.fn(inp)]
    return rows


def cube_block(checks: list[Check], inp: QAInput) -> list[list[dict]]:
    """The kernel of one block of markets: each blockwise cube check's findings on the block's cube."""
    return [_run([check], inp) for check in checks]


def _latest(cube: xr.Dataset) -> pd.Timestamp:
    """The newest period any market observes (what `stale` measures against without an as_of)."""
    seen = cube["y"].notnull().any("market").values
    times = pd.DatetimeIndex(cube["time"].values)
    return times[seen].max() if seen.any() else times[-1]


def _run_cube(
    checks: list[Check], inp: QAInput, map_blocks: BlockMap | None, block_markets: int | None
) -> list[dict]:
    """Findings of the cube checks, check by check: the blockwise ones on blocks of markets."""
    cube = inp.cube
    assert cube is not None
    apart = [c for c in checks if c.blockwise]
    # a block needs the cube only; the run date is decided on the whole cube, not per block
    as_of = inp.as_of if inp.as_of is not None else _latest(cube)
    lean = replace(inp, table=inp.table.iloc[:0], as_of=as_of)
    args = [(apart, replace(lean, cube=b)) for b in market_blocks(cube, block_markets)]
    per_block = (map_blocks or serial)(cube_block, args, "qa") if apart else []
    found = {c.name: [r for block in per_block for r in block[i]] for i, c in enumerate(apart)}
    rows: list[dict] = []
    for check in checks:
        rows += found[check.name] if check.blockwise else _run([check], inp)
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
    t = valid_rows(inp)
    if failed:
        t = t[~t["market"].isin(failed)]
    if t.empty:
        return None
    if inp.qa.fill_gaps == "interpolate":
        t = fill_gaps(t[["market", "date", "value"]], inp.freq)
    if inp.value != "value" and inp.value in t.columns:  # a value column named like a flag
        t = t[["market", "date", "value"]]
    # to_cube takes its own copy of the three columns: no copy of the table here
    table = t.rename(columns={"value": inp.value}, copy=False)
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
    map_blocks: BlockMap | None = None,
    block_markets: int | None = None,
    countries: dict[str, str] | None = None,
) -> QAResult:
    """Run the registered checks on a raw actuals table and on the cube built from the rows that pass.

    The blockwise cube checks run on blocks of `block_markets` markets (one block when None)
    through `map_blocks` (`fcast.data.blockwise`; in this process when None); the findings
    do not depend on the blocks. `countries`: market -> holidays country code, for markets
    whose code is not one (every block gets the mapping).
    """
    chosen = [CHECKS.get(c) for c in (checks or all_checks())]
    columns = [str(c) for c in table.columns]
    inp = QAInput(
        pd.DataFrame(),
        value,
        freq,
        qa,
        min_history,
        as_of,
        previous_markets,
        columns,
        countries=dict(countries or {}),
    )
    rows = _run([CHECKS.get("columns")], inp)
    if rows:
        return QAResult(_frame(rows, qa.fail_on_warning), None, source)
    inp = replace(inp, table=normalize(table, value))
    rows = _run([c for c in chosen if c.level == "table" and c.name != "columns"], inp)
    cube = _passing_cube(inp, rows, source)
    if cube is not None:
        cube_checks = [c for c in chosen if c.level == "cube"]
        if all(c.blockwise for c in cube_checks):  # they see the cube only: free the long table
            inp = replace(inp, table=inp.table.iloc[:0])
        rows += _run_cube(cube_checks, replace(inp, cube=cube), map_blocks, block_markets)
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

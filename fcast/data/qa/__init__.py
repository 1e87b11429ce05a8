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
| timezone | error | table | a date carries a timezone or UTC offset (convert to naive local dates) |
| time_of_day | error | table | a date is not at midnight for a frequency of whole days |
| misaligned | error | table | a date is not on the frequency's grid (e.g. not a Monday for W-MON) |
| missing_periods | error | table | a market skips periods (runs `qa.fill_gaps: interpolate` does not fill) |
| filled | info | table | `qa.fill_gaps: interpolate` filled a run of at most `qa.max_gap` periods |
| nan | error | table | a value is missing |
| non_finite | error | table | a value is inf or -inf |
| negative | error | table | a value is below zero |
| zero | warning | table | a value is exactly zero |
| market_appeared | warning | table | a market is not in the previous run |
| market_disappeared | warning | table | a market of the previous run is missing |
| stale | warning | cube | a market's last period lags the run date by more than `qa.stale_after` periods |
| jump | warning | cube | the robust z-score of a period-over-period change exceeds `qa.jump_z` |
| short_history | warning | cube | a market has less history than the CV design needs (it is handled as new) |
| calendar | info | cube | a market has no holiday calendar: its code is not a country and it names none (markets table column `country` or `holidays.country`) |

The package: `base` (the check record, its input, the registry, finding helpers),
`checks` (the built-in checks above) and `run` (`run_qa`, `QAResult`, `summary`).

Jumps: ``d[t] = log y[t] - log y[t-1]``; the deviation from the median change of the 9
surrounding periods (so launch ramps and trends are not jumps) divided by 1.4826 x its
median absolute deviation over the market. Changes into or out of a period holding a
public holiday (when the market's country, its code or the one it names, is known to the
`holidays` package) are exempt.
"""

from fcast.data.qa import checks as checks  # registers the built-in checks
from fcast.data.qa.base import (
    CHECKS,
    FINDING_COLUMNS,
    Check,
    CheckFn,
    QAConfig,
    QAInput,
    all_checks,
    normalize,
    register_check,
)
from fcast.data.qa.checks import jump_scores
from fcast.data.qa.run import QAResult, run_qa, summary

__all__ = [
    "CHECKS",
    "FINDING_COLUMNS",
    "Check",
    "CheckFn",
    "QAConfig",
    "QAInput",
    "QAResult",
    "all_checks",
    "jump_scores",
    "normalize",
    "register_check",
    "run_qa",
    "summary",
]

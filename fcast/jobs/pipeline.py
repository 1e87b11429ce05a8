"""The pipeline: the jobs' public names in one place (design: `fcast.pipeline`).

Each job loads the actuals into the cube, segments the markets, runs the heavy stages on
the Dask client it is given (or in-process when it is given none), and writes the run
folder `<store>/runs/<run_id>/` with its manifest. The stages themselves know nothing of
files or configs. The jobs live in modules named for what they do: `prepare` (QA, cube,
cleaning, segments, the run folder), `tuning`, `weekly`, `outputs` (new and custom markets,
business input, QC, files), `manifest`, `selections` (per-market tuned selections),
`intervals` (conformal and scaled intervals: `calibrate_tuned`, `calibrate_stored`).
"""

from fcast.jobs.intervals import (
    calibrate_stored,
    calibrate_tuned,
    conformal_intervals,
    scaled_intervals,
    stored_conformal,
    stored_scaled,
)
from fcast.jobs.manifest import RunResult, Timer, code_version
from fcast.jobs.outputs import apply_selection, business_input, holiday_x, unselected_markets
from fcast.jobs.prepare import (
    Prepared,
    QAFailed,
    blocking_errors,
    estimate_fits,
    known_markets,
    min_history,
    min_train,
    prepare,
    previous_input_markets,
    run_input_qa,
)
from fcast.jobs.tuning import chosen_table, run_tuning
from fcast.jobs.weekly import run_weekly

__all__ = [
    "Prepared",
    "QAFailed",
    "RunResult",
    "Timer",
    "apply_selection",
    "blocking_errors",
    "business_input",
    "calibrate_stored",
    "calibrate_tuned",
    "chosen_table",
    "code_version",
    "conformal_intervals",
    "estimate_fits",
    "holiday_x",
    "known_markets",
    "min_history",
    "min_train",
    "prepare",
    "previous_input_markets",
    "run_input_qa",
    "run_tuning",
    "run_weekly",
    "scaled_intervals",
    "stored_conformal",
    "stored_scaled",
    "unselected_markets",
]

"""The benchmark scripts' result tables (the README's accuracy table is printed from the result file)."""

import importlib
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _accuracy():
    """benchmarks/accuracy.py as a module (sys.path as it was: the script adds its folder too)."""
    before = list(sys.path)
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module("accuracy")
    finally:
        sys.path[:] = before


def test_summary_table_puts_every_arm_of_every_data_set_in_one_row():
    acc = _accuracy()
    arm = {
        "mase": 1.3687,
        "smape": 17.6906,
        "coverage_80": 0.8271,
        "scaled_interval_score_80": 7.0968,
    }
    results = {
        "tourism-monthly": {
            "fcast": {**arm, "measured": "2026-12-02"},
            "AutoETS": {"mase": 1.531, "smape": 19.0919},
            "published_best_2011": {"mase": 1.38, "smape": None},
        },
        "m1-monthly": {"fcast": {"mase": 1.0135, "smape": 14.4401, "measured": "2026-12-02"}},
        acc.WEEKLY: {"fcast": {"smape": 2.3}},  # has its own table
    }
    lines = acc.summary_markdown(results).splitlines()
    assert lines[0] == "| method | tourism-monthly | m1-monthly |"
    assert lines[2] == "| **fcast** | 1.369 / 17.69 / 82.7% / 7.10 | 1.014 / 14.44 |"
    assert lines[3] == "| AutoETS | 1.531 / 19.09 |  |"
    assert lines[4] == "| published_best_2011 | 1.380 / – |  |"
    assert len(lines) == 7 and "measured 2026-12-02" in lines[-1]

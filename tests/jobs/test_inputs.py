"""Tables a job reads for the stages: the supplied totals QC compares with."""

from __future__ import annotations

import pandas as pd
import pytest

from fcast.errors import DataError
from fcast.jobs.inputs import read_totals


def test_read_totals(tmp_path):
    path = tmp_path / "totals.csv"
    pd.DataFrame({"date": ["2026-11-23"], "total": [5.0]}).to_csv(path, index=False)
    assert read_totals(str(path))["date"].tolist() == [pd.Timestamp("2026-11-23")]
    pd.DataFrame({"day": ["2026-11-23"], "total": [5.0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"needs columns date and total; missing \['date'\]"):
        read_totals(str(path))
    with pytest.raises(DataError, match=r"totals file not found: .*missing.csv \(qc.totals\)"):
        read_totals(str(tmp_path / "missing.csv"))

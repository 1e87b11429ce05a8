"""Tables a job reads for the stages: the supplied totals QC compares with."""

from __future__ import annotations

import pandas as pd
import pytest

from fcast.config import parse_config
from fcast.errors import DataError
from fcast.jobs.inputs import check_actuals_header, read_totals


def test_read_totals(tmp_path):
    path = tmp_path / "totals.csv"
    pd.DataFrame({"date": ["2026-11-23"], "total": [5.0]}).to_csv(path, index=False)
    assert read_totals(str(path))["date"].tolist() == [pd.Timestamp("2026-11-23")]
    pd.DataFrame({"day": ["2026-11-23"], "total": [5.0]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"needs columns date and total; missing \['date'\]"):
        read_totals(str(path))
    with pytest.raises(DataError, match=r"totals file not found: .*missing.csv \(qc.totals\)"):
        read_totals(str(tmp_path / "missing.csv"))


def test_check_actuals_header_against_data_columns(tmp_path):
    path = tmp_path / "own.csv"
    path.write_text("country,month,sessions\nSE,2024-01-01,5\n")
    columns = {"market": "country", "date": "month", "value": "sessions"}
    cfg = parse_config({"data": {"actuals": str(path), "freq": "MS", "columns": columns}})
    assert check_actuals_header(cfg) is None
    plain = parse_config({"data": {"actuals": str(path), "freq": "MS", "value": "sessions"}})
    with pytest.raises(
        DataError, match=r"missing column\(s\) \['market', 'date'\]; found \['country'"
    ):
        check_actuals_header(plain)
    absent = parse_config({"data": {"actuals": str(tmp_path / "later.csv")}})
    assert check_actuals_header(absent) == f"actuals file not found (yet): {tmp_path / 'later.csv'}"

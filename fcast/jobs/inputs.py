"""Tables a job reads from files named in its config and hands to the stages (which read no file)."""

from __future__ import annotations

import fsspec
import pandas as pd

from fcast.data import read_table
from fcast.errors import DataError


def read_totals(url: str) -> pd.DataFrame:
    """A supplied totals table with columns date and total (CSV or Parquet, any fsspec URL), for QC."""
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        raise DataError(f"totals file not found: {url} (qc.totals)")
    df = read_table(url)
    missing = [c for c in ("date", "total") if c not in df.columns]
    if missing:
        raise DataError(
            f"{url}: totals table needs columns date and total; missing {missing} (qc.totals)"
        )
    return df.assign(date=pd.to_datetime(df["date"]))[["date", "total"]]

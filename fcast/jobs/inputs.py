"""Tables a job reads from files named in its config and hands to the stages (which read no file)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import fsspec
import pandas as pd

from fcast.data import check_header, read_header, read_table
from fcast.errors import DataError

if TYPE_CHECKING:
    from fcast.config import RunConfig


def check_actuals_header(cfg: RunConfig) -> str | None:
    """Check the data file's header against `data.columns`: a DataError naming missing columns.

    Returns None when checked, or why it could not be (a SQL source, a file not written yet).
    """
    from fcast.infra.warehouse import actuals_label, sql_source

    if sql_source(cfg.data.actuals) is not None:
        return "a SQL source: its columns are checked when a run reads it"
    url = str(cfg.data.actuals)
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        return f"actuals file not found (yet): {url}"
    check_header(read_header(url), cfg.data.column_map, cfg.data.value, actuals_label(url))
    return None


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

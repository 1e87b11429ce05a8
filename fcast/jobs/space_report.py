"""`fcast space-report RUN_ID`: write a tuning run's space report and narrowed space into its folder."""

from __future__ import annotations

import io
from typing import Any

import fsspec
import pandas as pd
import xarray as xr
import yaml

from fcast.atomic import write_bytes
from fcast.core.tune.report import narrowed_space, space_report, space_size


def write_space_report(
    run_url: str, season_length: int, out_yaml: str | None = None
) -> dict[str, Any]:
    """Read a run's cube and selection; write space-report.parquet and space-narrowed.yaml (atomically)."""
    tuning = xr.open_zarr(f"{run_url}/tuning.zarr", consolidated=True)
    with fsspec.open(f"{run_url}/selection.parquet", "rb") as fh:
        selection = pd.read_parquet(fh)
    report = space_report(tuning, selection)
    narrowed = narrowed_space(tuning, selection, season_length)
    buf = io.BytesIO()
    report.to_parquet(buf, index=False)
    write_bytes(f"{run_url}/space-report.parquet", buf.getvalue())
    target = out_yaml or f"{run_url}/space-narrowed.yaml"
    text = "# narrowed from the values selected in this run (fcast space-report)\n"
    write_bytes(target, (text + yaml.safe_dump(narrowed, sort_keys=False)).encode())
    return {
        "report": report,
        "narrowed": narrowed,
        "yaml": target,
        "hps_before": tuning.sizes["hp"],
        "hps_after": space_size(narrowed),
    }

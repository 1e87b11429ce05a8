"""Conformal intervals in the jobs (`intervals: conformal`): computed by tuning, reused by weekly.

The tuning job calibrates its mature markets' bounds on the CV residuals of their combined
forecast and stores the scaled half-widths as `runs/<run_id>/conformal.parquet`; the weekly
job reads them from the newest tuning run of its markets that stored them.
"""

import logging

import pandas as pd
import xarray as xr

from fcast.config import RunConfig
from fcast.core import conformal
from fcast.data import season_length
from fcast.infra.store import Store

log = logging.getLogger(__name__)

#: the file a tuning run stores its scaled half-widths in
CONFORMAL_FILE = "conformal.parquet"


def conformal_intervals(
    cfg: RunConfig, fc: xr.Dataset, y: xr.DataArray, tuning: xr.Dataset, selection: pd.DataFrame
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Conformal bounds for the tuned markets from the CV residuals of their combined forecast.

    Returns the forecast and the scaled half-widths (level, step, half_width) the weekly job reuses.
    """
    res = conformal.cv_residuals(tuning, selection)
    q = conformal.conformal_quantiles(
        res.values, tuning["scale"].sel(market=res["market"]).values, cfg.levels, cfg.horizon
    )
    tuned = y.sel(market=res["market"].values)  # fallback (seasonal naive) markets keep their own
    scale_now = conformal.current_scale(tuned, season_length(cfg.data.freq))
    return conformal.calibrate(fc, q, scale_now), conformal.quantile_table(q, cfg.levels)


def stored_conformal(
    cfg: RunConfig, store: Store, fc: xr.Dataset, y: xr.DataArray, selection: pd.DataFrame
) -> xr.Dataset:
    """Weekly: conformal bounds from the newest tuning run of these markets that stored half-widths."""
    tuned_markets = set(selection["market"].astype(str))
    for run in sorted(set(selection["run_id"].astype(str)), reverse=True):
        if not store.exists("runs", run, CONFORMAL_FILE):
            continue
        table = store.read_parquet("runs", run, CONFORMAL_FILE)
        q = conformal.from_table(table, cfg.levels, cfg.horizon)
        if q is not None:
            tuned = y.sel(market=[m for m in y["market"].values if m in tuned_markets])
            return conformal.calibrate(
                fc, q, conformal.current_scale(tuned, season_length(cfg.data.freq))
            )
    log.warning(
        "intervals: conformal, but no tuning run of these markets stored conformal half-widths "
        "for these levels and horizon; the models' own intervals are used"
    )
    return fc

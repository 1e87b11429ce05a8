"""Calibrated intervals in the jobs (`intervals: conformal | scaled`): computed by tuning, reused by weekly.

The tuning job calibrates its mature markets' bounds on the CV residuals of their combined
forecast and stores the scaled half-widths as `runs/<run_id>/conformal.parquet`; the weekly
job reads them from the newest tuning run of its markets that stored them. `scaled` keeps
the models' own bounds, narrowed by the combination gain (`fcast.core.conformal.combination_gain`),
stored as `runs/<run_id>/scaled.parquet` (one row: factor) and reused the same way.
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
#: the file a tuning run stores its interval scale factor in (`intervals: scaled`)
SCALED_FILE = "scaled.parquet"


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


def scaled_intervals(
    fc: xr.Dataset, tuning: xr.Dataset, selection: pd.DataFrame
) -> tuple[xr.Dataset, pd.DataFrame]:
    """The tuned markets' own bounds narrowed by the combination gain; the factor as a table."""
    factor = conformal.combination_gain(tuning, selection)
    markets = selection.loc[selection["weight"] > 0, "market"].astype(str).unique().tolist()
    log.info(f"intervals: scaled, the models' own bounds x {factor:.3f} around the forecast")
    return conformal.scale_bounds(fc, factor, markets), pd.DataFrame({"factor": [factor]})


def stored_scaled(store: Store, fc: xr.Dataset, selection: pd.DataFrame) -> xr.Dataset:
    """Weekly: own bounds narrowed by the factor of the newest tuning run of these markets that stored one."""
    markets = selection["market"].astype(str).unique().tolist()
    for run in sorted(set(selection["run_id"].astype(str)), reverse=True):
        if store.exists("runs", run, SCALED_FILE):
            factor = float(store.read_parquet("runs", run, SCALED_FILE)["factor"].iloc[0])
            return conformal.scale_bounds(fc, factor, markets)
    log.warning(
        "intervals: scaled, but no tuning run of these markets stored a scale factor; "
        "the models' own intervals are used"
    )
    return fc


def calibrate_tuned(
    cfg: RunConfig,
    store: Store,
    run_id: str,
    fc: xr.Dataset,
    y: xr.DataArray,
    tuning: xr.Dataset,
    selection: pd.DataFrame,
) -> xr.Dataset:
    """Tuning: the tuned markets' bounds as `cfg.intervals` says; what weekly reuses stored under the run.

    `selection` holds the tuned markets only: the aggregates keep their models' bounds.
    """
    if cfg.intervals == "conformal":
        fc, widths = conformal_intervals(cfg, fc, y, tuning, selection)
        store.write_parquet(widths, "runs", run_id, CONFORMAL_FILE)
    elif cfg.intervals == "scaled":
        fc, factor = scaled_intervals(fc, tuning, selection)
        store.write_parquet(factor, "runs", run_id, SCALED_FILE)
    return fc


def calibrate_stored(
    cfg: RunConfig, store: Store, fc: xr.Dataset, y: xr.DataArray, selection: pd.DataFrame
) -> xr.Dataset:
    """Weekly: the tuned markets' bounds as `cfg.intervals` says, from what their tuning runs stored."""
    if cfg.intervals == "conformal":
        return stored_conformal(cfg, store, fc, y, selection)
    if cfg.intervals == "scaled":
        return stored_scaled(store, fc, selection)
    return fc

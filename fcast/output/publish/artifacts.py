"""The record publishing works on: a run's manifest, forecast, actuals and optional stage tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import xarray as xr

from fcast.output.publish.comparison import period_name

#: the stage tables a run folder may hold besides its forecast, by file stem
OPTIONAL_TABLES = ("qc", "qa", "cleaning", "proxies", "adjustments", "hierarchy")


@dataclass
class RunArtifacts:
    """What publishing needs from a run: manifest, forecast, actuals and the optional stage tables."""

    run_id: str
    manifest: dict[str, Any]
    forecast: pd.DataFrame
    actuals: pd.DataFrame | None = None  # market, date, y: the history before the forecast
    qc: pd.DataFrame | None = None
    qa: pd.DataFrame | None = None
    cleaning: pd.DataFrame | None = None
    proxies: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None
    hierarchy: pd.DataFrame | None = None  # level, name, market: the markets of each aggregate
    totals: pd.DataFrame | None = None  # the total and group rows (with `level`), if any

    @property
    def value(self) -> str:
        """Name of the forecast metric (e.g. users)."""
        return str(self.manifest.get("config", {}).get("data", {}).get("value", "users"))

    @property
    def headline_periods(self) -> int | None:
        """Periods ahead the headline looks (config `publish.headline`; None: the whole forecast)."""
        value = self.manifest.get("config", {}).get("publish", {}).get("headline")
        return int(value) if value else None

    @property
    def unit(self) -> str:
        """What one period of the forecast is called: week, month, quarter, day or period."""
        return period_name(self.forecast["date"])


def actuals_frame(actuals: pd.DataFrame | xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """Actuals as a long table market, date, y (from a cube or a table with a value column)."""
    if isinstance(actuals, xr.Dataset):
        actuals = actuals["y"]
    if isinstance(actuals, xr.DataArray):
        df = actuals.to_dataframe(name="y").reset_index().rename(columns={"time": "date"})
    else:
        value = (
            "y"
            if "y" in actuals
            else next(c for c in actuals.columns if c not in ("market", "date"))
        )
        df = actuals.rename(columns={value: "y"})
    df = df.dropna(subset=["y"])[["market", "date", "y"]].copy()
    df["date"] = pd.to_datetime(df["date"])
    return df.reset_index(drop=True)


def history_before(actuals: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """The actuals of the forecast's markets before its first date."""
    keep = actuals["market"].isin(set(forecast["market"])) & (
        actuals["date"] < forecast["date"].min()
    )
    return actuals[keep].reset_index(drop=True)

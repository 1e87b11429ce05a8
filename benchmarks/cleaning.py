"""Cleaning accuracy on the built-in sample: `y_clean` against the ground truth `users_clean`.

Two tables: the default sample cleaned as the pipeline does (known events of
configs/events.yaml plus automatic detection), and five sample markets with an injected
7-week strike of zeros (from 2023-10-02). Run: `python benchmarks/cleaning.py` (seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fcast.config import load_disruptions
from fcast.data import to_cube
from fcast.data.clean import clean
from fcast.data.sample import SampleData, make_sample

EVENTS = Path(__file__).resolve().parents[1] / "configs" / "events.yaml"
STRIKE_MARKETS = ("SE", "NO", "DE", "BR", "KR")
STRIKE_START, STRIKE_WEEKS = 150, 7


def ape(got: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Absolute percentage errors, in %."""
    return 100 * np.abs(got / truth - 1)


def default_sample(s: SampleData) -> pd.DataFrame:
    """MAPE of y_clean vs users_clean over all weeks, the event weeks and the rest (auto on and off)."""
    mature = s.markets.loc[s.markets["segment_hint"] == "mature", "market"]
    cube = to_cube(s.actuals[s.actuals["market"].isin(mature)], "W-MON")
    truth = s.truth.set_index(["market", "date"])["users_clean"]
    rows = []
    for auto in (True, False):
        out, record = clean(cube, load_disruptions(EVENTS), auto=auto, season_length=52)
        df = out["y_clean"].to_dataframe().reset_index().rename(columns={"time": "date"}).dropna()
        err = ape(
            df["y_clean"].to_numpy(),
            truth.reindex(pd.MultiIndex.from_frame(df[["market", "date"]])).to_numpy(),
        )
        event = np.zeros(len(df), dtype=bool)
        for ev in s.events.itertuples():
            event |= ((df["market"] == ev.market) & df["date"].between(ev.start, ev.end)).to_numpy()
        rows.append(
            {
                "auto": auto,
                "mape_all_%": err.mean(),
                "mape_event_weeks_%": err[event].mean(),
                "mape_other_weeks_%": err[~event].mean(),
                "windows_applied": int(record["applied"].sum()),
                "windows_recorded": len(record),
            }
        )
    return pd.DataFrame(rows)


def strikes(s: SampleData) -> pd.DataFrame:
    """Per market with an injected strike: MAPE in the strike weeks and elsewhere, and what was removed."""
    truth = s.truth.set_index(["market", "date"])["users_clean"]
    rows = []
    for market in STRIKE_MARKETS:
        actuals = s.actuals[s.actuals["market"] == market].reset_index(drop=True)
        actuals.loc[STRIKE_START : STRIKE_START + STRIKE_WEEKS - 1, "users"] = 0.0
        out, record = clean(to_cube(actuals, "W-MON"), None, auto=True, season_length=52)
        got = out["y_clean"].values[0]
        err = ape(got, truth.loc[market].reindex(pd.DatetimeIndex(out["time"].values)).to_numpy())
        inside = np.zeros(len(got), dtype=bool)
        inside[STRIKE_START : STRIKE_START + STRIKE_WEEKS] = True
        rows.append(
            {
                "market": market,
                "mape_strike_%": err[inside].mean(),
                "mape_other_weeks_%": np.nanmean(err[~inside]),
                "removed": ", ".join(
                    f"{r.kind} {r.periods}w" for r in record[record["applied"]].itertuples()
                ),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    """Print both tables."""
    s = make_sample()
    print("default sample, y_clean vs users_clean:")
    print(default_sample(s).round(4).to_string(index=False))
    print(f"\n{STRIKE_WEEKS}-week strike of zeros injected into sample markets:")
    print(strikes(s).round(2).to_string(index=False))


if __name__ == "__main__":
    main()

"""Removal of one-time disruptions: known events, automatic detection, counterfactual replacement.

The stage in three modules, by what they do:

- `fcast.data.baseline`: the robust baseline of a market (trend + season + holidays in log
  space, fitted by IRLS) and its robust z-scores;
- `fcast.data.detect`: proposals of one-time disruptions from the z-scores;
- here: known disruptions (the `clean.events` schema; `fcast.config.load_disruptions`
  reads the file), removal and `clean`, which runs all of it.

Removal refits the baseline with every window of the market given weight zero and replaces
each window by the counterfactual ``exp(trend + season + holidays)`` of that fit: the
surrounding series decides the level, the seasonal shape and the holiday effect.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fcast.data.baseline import (
    calendar_of,
    default_knot_every,
    design,
    festivals,
    fit_baseline,
    holidays_of,
    observed_span,
    window_mask,
)
from fcast.data.blockwise import BlockMap, market_blocks, serial
from fcast.data.detect import NEAR_ZERO, PROPOSAL_COLUMNS, detect, zero_runs
from fcast.errors import ConfigError
from fcast.yamlio import format_errors

EVENT_COLUMNS = ["market", "start", "end", "kind", "note"]
RECORD_COLUMNS = [
    "market",
    "start",
    "end",
    "kind",
    "source",
    "periods",
    "mean_before",
    "mean_after",
    "change_pct",
    "effect_pct",
    "score",
    "note",
    "applied",
]


# --- known events --------------------------------------------------------------------


class Event(BaseModel):
    """One known disruption: a market (or `*` for all), an inclusive date range, a kind."""

    model_config = ConfigDict(extra="forbid")

    market: str = Field(min_length=1)
    start: date
    end: date
    kind: str = Field("disruption", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Event:
        """End on or after start."""
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class EventsFile(BaseModel):
    """The disruptions YAML (`clean.events`): a top-level `events` list."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(default_factory=list)


def parse_disruptions(raw: object, source: str = "<events>") -> pd.DataFrame:
    """Validate a known-disruptions mapping (already read from YAML); return market, start, end, kind, note.

    The schema is ``events: [{market, start, end, kind, note}, ...]``; the custom event
    calendars of holiday features (``events: {name: [dates]}``) are a different file, see
    `fcast.data.calendar.parse_event_calendars`. Reading the file is `fcast.config.load_disruptions`.
    """
    if raw is None:
        raw = {"events": []}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"invalid events {source}: expected a mapping with an 'events' list at the top level"
        )
    if isinstance(raw.get("events"), dict):
        raise ConfigError(
            f"invalid events {source}: events: expected a list of disruptions "
            "(market, start, end, kind, note); a mapping of names to dates is a holiday event "
            "calendar, which belongs under holidays.events"
        )
    try:
        parsed = EventsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, f"invalid events {source}:")) from None
    rows = [ev.model_dump() for ev in parsed.events]
    df = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    df["market"] = df["market"].astype(str).str.strip()
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col])
    return df


#: the former name of `parse_disruptions`
parse_events = parse_disruptions


def expand_events(events: pd.DataFrame | None, markets: list[str]) -> pd.DataFrame:
    """Events with `*` repeated for every market, restricted to `markets`."""
    if events is None or events.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    star = events[events["market"] == "*"]
    own = events[events["market"].isin(markets)]
    spread = [star.assign(market=m) for m in markets]
    return pd.concat([own, *spread], ignore_index=True)[EVENT_COLUMNS].sort_values(
        ["market", "start"], ignore_index=True
    )


# --- removal -----------------------------------------------------------------------


def _replace_market(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    windows: pd.DataFrame,
    season_length: int,
    country: str | None,
    knot_every: int,
    harmonics: int,
    near_zero: float = NEAR_ZERO,
) -> tuple[np.ndarray, np.ndarray]:
    """One market's series with its windows replaced by the baseline fitted without them, and what changed.

    Zero runs that are not removed (for review) are left out of the fit too, as in detection.
    """
    excluded = window_mask(times, windows, windows["market"].iloc[0])
    unfitted = excluded.copy()
    for a, b in zero_runs(values, season_length, near_zero):
        unfitted[a : b + 1] = True
    fit, _ = fit_baseline(values, times, season_length, country, unfitted, knot_every, harmonics)
    replaced = excluded & np.isfinite(values) & np.isfinite(fit)
    out = values.copy()
    out[replaced] = np.exp(fit[replaced])
    return out, replaced


def _text(value: object, default: str = "") -> str:
    """A string cell, with NaN/None as the default."""
    return value if isinstance(value, str) else default


def _record_row(
    w: object, times: pd.DatetimeIndex, before: np.ndarray, after: np.ndarray, replaced: np.ndarray
) -> dict:
    """What one window replaced: periods, means before and after, change in percent."""
    inside = (times >= pd.Timestamp(w.start)) & (times <= pd.Timestamp(w.end))
    mask = inside & replaced
    periods = int(mask.sum())
    why = (
        "too little data to fit a baseline"
        if np.isfinite(before[inside]).any()
        else "no observed period in the window"
    )
    mb = float(np.mean(before[mask])) if periods else float("nan")
    ma = float(np.mean(after[mask])) if periods else float("nan")
    note = _text(getattr(w, "note", ""))
    return {
        "market": w.market,
        "start": pd.Timestamp(w.start),
        "end": pd.Timestamp(w.end),
        "kind": _text(getattr(w, "kind", None), "disruption"),
        "source": _text(getattr(w, "source", None), "known"),
        "periods": periods,
        "mean_before": mb,
        "mean_after": ma,
        "change_pct": round(100 * (ma / mb - 1), 2) if periods and mb else float("nan"),
        "effect_pct": float(getattr(w, "effect_pct", float("nan"))),
        "score": float(getattr(w, "score", float("nan"))),
        "note": note if periods else (note + "; " if note else "") + f"not applied: {why}",
        "applied": periods > 0,
    }


def remove(
    y: xr.DataArray,
    windows: pd.DataFrame,
    season_length: int,
    *,
    use_holidays: bool = True,
    countries: dict[str, str] | None = None,
    knot_every: int | None = None,
    harmonics: int = 6,
    near_zero: float = NEAR_ZERO,
) -> tuple[xr.DataArray, pd.DataFrame]:
    """Replace each window (market, start, end, ...) by a counterfactual; return y_clean and the record."""
    knot_every = knot_every or default_knot_every(season_length)
    times_all = pd.DatetimeIndex(y["time"].values)
    out = y.copy(data=y.values.astype("float64").copy()).rename("y_clean")
    rows: list[dict] = []
    markets = set(y["market"].values.tolist())
    for market, group in windows.groupby("market", sort=True) if len(windows) else []:
        if market not in markets:
            continue
        values = y.sel(market=market).values.astype("float64")
        span = observed_span(values)
        vals, times = values[span], times_all[span]
        new, replaced = _replace_market(
            vals,
            times,
            group,
            season_length,
            calendar_of(market, use_holidays, countries),
            knot_every,
            harmonics,
            near_zero,
        )
        full = values.copy()
        full[span] = new
        out.loc[{"market": market}] = full
        rows += [_record_row(w, times, vals, new, replaced) for w in group.itertuples(index=False)]
    record = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    out.attrs = {
        **y.attrs,
        "long_name": f"{y.attrs.get('long_name', 'y')} without one-time disruptions",
    }
    return out, record


def clean(
    cube: xr.Dataset,
    events: pd.DataFrame | None,
    *,
    auto: bool,
    season_length: int,
    map_blocks: BlockMap | None = None,
    block_markets: int | None = None,
    **detect_kwargs: object,
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Cube with `y` and `y_clean` side by side, and the record of every window (flag `applied`).

    Markets are cleaned in blocks of `block_markets` (all at once when None) through
    `map_blocks` (`fcast.data.blockwise`; in this process when None): every market is
    fitted on its own, so the result does not depend on the blocks. Proposals with a
    `review` reason (recurring, an overlong zero run) are recorded, never removed.
    """
    blocks = market_blocks(cube[["y"]], block_markets)
    args = [(b["y"], events, auto, season_length, detect_kwargs) for b in blocks]
    results = (map_blocks or serial)(clean_block, args, "clean")
    y_clean = (
        xr.concat([r[0] for r in results], dim="market")
        if results
        else cube["y"].astype("float64").rename("y_clean")
    )
    records = [r[1] for r in results if len(r[1])]
    record = pd.concat(records, ignore_index=True) if records else _empty_record()
    return cube.assign(y_clean=y_clean), _sorted(record)


def _empty_record() -> pd.DataFrame:
    """A cleaning record without rows."""
    return pd.DataFrame(columns=RECORD_COLUMNS)


def _sorted(record: pd.DataFrame) -> pd.DataFrame:
    """The record by market and start (stable, so the order never depends on the blocks)."""
    return record.sort_values(["market", "start"], ignore_index=True, kind="stable")


def clean_block(
    y: xr.DataArray,
    events: pd.DataFrame | None,
    auto: bool,
    season_length: int,
    detect_kwargs: dict[str, object],
) -> tuple[xr.DataArray, pd.DataFrame]:
    """The kernel of one block of markets: their y_clean and their record (the task body on a cluster)."""
    markets = y["market"].values.tolist()
    known = expand_events(events, markets).assign(source="known")
    proposals = detect(y, season_length, exclude=known, **detect_kwargs).assign(source="auto")
    one_time = (proposals["review"] == "").to_numpy()
    proposals["note"] = np.where(
        one_time,
        "detected automatically" + ("" if auto else " (not removed: clean.auto is false)"),
        "detected automatically; not removed: " + proposals["review"].astype(str),
    )
    removed = proposals[one_time] if auto else proposals.iloc[:0]
    applied = (
        pd.concat([f for f in (known, removed) if len(f)], ignore_index=True)
        if len(removed)
        else known
    )
    y_clean, record = remove(y, applied, season_length, **_removal_kwargs(detect_kwargs))
    skipped = proposals[~one_time] if auto else proposals
    if len(skipped):
        skipped = skipped.assign(
            applied=False, mean_before=np.nan, mean_after=np.nan, change_pct=np.nan
        )
        record = pd.concat(
            [f for f in (record, skipped[RECORD_COLUMNS]) if len(f)], ignore_index=True
        )
    return y_clean, _sorted(record)


def most_changed(record: pd.DataFrame, limit: int | None) -> list[str]:
    """Markets with an applied removal, the largest first (periods x |change %|), at most `limit` (None: all)."""
    done = record[record["applied"].astype(bool)] if len(record) else record
    if not len(done):
        return []
    impact = (
        pd.DataFrame(
            {
                "market": done["market"].astype(str),
                "impact": done["periods"] * done["change_pct"].abs().fillna(0),
            }
        )
        .groupby("market", as_index=False)["impact"]
        .sum()
    )
    markets = impact.sort_values(["impact", "market"], ascending=[False, True])["market"].tolist()
    return markets if limit is None else markets[:limit]


def _removal_kwargs(kwargs: dict[str, object]) -> dict[str, object]:
    """The detection settings that removal shares (holidays, knots, harmonics, near zero)."""
    return {
        k: v
        for k, v in kwargs.items()
        if k in ("use_holidays", "countries", "knot_every", "harmonics", "near_zero")
    }


__all__ = [
    "EVENT_COLUMNS",
    "PROPOSAL_COLUMNS",
    "RECORD_COLUMNS",
    "clean",
    "clean_block",
    "design",
    "detect",
    "expand_events",
    "festivals",
    "holidays_of",
    "most_changed",
    "parse_disruptions",
    "parse_events",
    "remove",
]

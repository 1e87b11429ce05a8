"""Business input: people adjust the forecast of a market, and custom markets get a forced model.

Adjustments live in YAML (one file, or a folder such as ``configs/adjustments/``)::

    adjustments:
      - id: SE-20261214-campaign
        market: SE
        start: 2026-12-14          # first affected period (its start date; a Monday for W-MON)
        end: 2027-01-18            # last affected period, inclusive
        kind: multiplicative       # multiplicative | additive | level_shift | ramp
        value: 1.15                # +15%
        reason: winter campaign, +15% expected from the 2025 campaign
        author: anna.berg
        created: 2026-11-20 09:30:00+00:00

They apply after the models, to every forecast period whose date d has start <= d <= end.
With b the base value (yhat or one of its bounds) and v the value:

- ``multiplicative``: ``b * v`` (v is a factor: 1.15 = +15%); bounds scale with yhat.
- ``additive``: ``b + v`` (v in the metric's units per period); bounds shift by v.
- ``level_shift``: ``b + (v - mean(yhat_base over the affected periods))``: the mean over
  the period becomes v and the weekly shape is kept; bounds shift by the same amount.
- ``ramp``: ``yhat = (1 - w) * yhat_base + w * v`` with ``w = (d - start) / (end - start)``
  (w = 1 when start == end): from the base at ``start`` linearly to the target v at
  ``end``; bounds shift by ``yhat - yhat_base``.

Every result is clipped at zero (the metric counts users), which keeps bounds ordered.
Overlapping adjustments of one market conflict unless both are multiplicative (factors
multiply) or both additive (amounts add); the forecast keeps ``yhat_base`` (and
``<bound>_base``) beside the adjusted values, and ``adjustment_id`` names the adjustment(s)
applied to a row ("a+b" when two combine), so every change is traceable.

This module is the stage: the model, its validation against markets and dates, and applying
adjustments to a forecast table, all pure functions. Reading and writing the YAML files and
finding the latest forecast in a store is `fcast.jobs.adjust`; a custom market's forced
model is `fcast.markets.custom`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fcast.contract import value_columns as contract_value_columns
from fcast.errors import ConfigError
from fcast.names import name_problem
from fcast.yamlio import format_errors

Kind = Literal["multiplicative", "additive", "level_shift", "ramp"]
KINDS: tuple[str, ...] = ("multiplicative", "additive", "level_shift", "ramp")
#: kinds whose overlapping adjustments combine (order does not matter)
STACKABLE = ("multiplicative", "additive")
KIND_HELP = {
    "multiplicative": "factor: 1.15 = +15%, 0.9 = -10%",
    "additive": "amount added per period (e.g. +2000 users a week)",
    "level_shift": "the mean level over the period (the weekly shape is kept)",
    "ramp": "target at the end date, reached linearly from the forecast at the start date",
}
#: the largest multiplicative factor, and the largest additive amount or level as a multiple
#: of the market's largest base forecast: beyond that a value is a typo, not business input
MAX_FACTOR = 100.0
HEADER = "# Business adjustments (docs/business-input.md); written by fcast adjust. Validated when a run starts.\n"


class Adjustment(BaseModel):
    """One business adjustment of one market's forecast over a period."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    market: str = Field(min_length=1)
    start: date = Field(validation_alias=AliasChoices("start", "from"))
    end: date = Field(validation_alias=AliasChoices("end", "to"))
    kind: Kind
    value: float
    reason: str = Field(min_length=1)
    author: str = Field(min_length=1)
    created: datetime
    _source: str | None = PrivateAttr(None)

    @field_validator("id")
    @classmethod
    def _id_format(cls, v: str) -> str:
        """Ids follow the one name rule (`fcast.names.check_name`): they become file names."""
        problem = name_problem(v)
        if problem:
            raise ValueError(f"invalid adjustment id {v!r}: {problem}")
        return v

    @field_validator("market", "reason", "author", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:  # noqa: ANN401
        """Surrounding blanks dropped."""
        return v.strip() if isinstance(v, str) else v

    @field_validator("created", mode="before")
    @classmethod
    def _date_to_datetime(cls, v: Any) -> Any:  # noqa: ANN401
        """A plain date is midnight UTC."""
        return (
            datetime(v.year, v.month, v.day, tzinfo=UTC)
            if isinstance(v, date) and not isinstance(v, datetime)
            else v
        )

    @field_validator("end")
    @classmethod
    def _after_start(cls, v: date, info: ValidationInfo) -> date:
        """End on or after start."""
        start = info.data.get("start")
        if start is not None and v < start:
            raise ValueError(f"end {v} is before start {start}")
        return v

    @field_validator("value")
    @classmethod
    def _value_for_kind(cls, v: float, info: ValidationInfo) -> float:
        """A finite value that makes sense for the kind (a factor > 0, a level >= 0)."""
        kind = info.data.get("kind")
        if not np.isfinite(v):
            raise ValueError(f"value must be a finite number, got {v}")
        if kind == "multiplicative" and not 0 < v <= MAX_FACTOR:
            raise ValueError(
                f"a multiplicative value is a factor in (0, {MAX_FACTOR:g}] (1.15 = +15%), got {v:g}"
            )
        if kind in ("level_shift", "ramp") and v < 0:
            raise ValueError(f"a {kind} value is a level and cannot be negative, got {v}")
        return v

    @property
    def source(self) -> str:
        """The file the adjustment was read from ("new" when not saved yet)."""
        return self._source or "new"

    def covers(self, dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
        """Boolean mask of the dates inside the period (start and end included)."""
        d = pd.DatetimeIndex(dates)
        return np.asarray((d >= pd.Timestamp(self.start)) & (d <= pd.Timestamp(self.end)))

    def describe(self) -> str:
        """'SE multiplicative 1.15 from 2026-12-14 to 2027-01-18'."""
        return f"{self.market} {self.kind} {self.value:g} from {self.start} to {self.end}"


def _with_source(adj: Adjustment, source: str | None) -> Adjustment:
    """`adj`, remembering the file it was read from."""
    adj._source = source
    return adj


# --- the YAML schema, both ways (reading the files is fcast.jobs.adjust) ---------------------


def _entries(raw: Any, source: str) -> list[Any]:
    """The list under the `adjustments` key of a file (empty file: no adjustments)."""
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) != {"adjustments"}:
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ConfigError(
            f"invalid adjustments {source}: expected a mapping with the single key 'adjustments' (got {got})"
        )
    entries = raw["adjustments"] or []
    if not isinstance(entries, list):
        raise ConfigError(
            f"invalid adjustments {source}: adjustments: expected a list of adjustments"
        )
    return entries


def parse_adjustments(raw: Any, source: str = "<adjustments>") -> list[Adjustment]:
    """The adjustments of one file's content (already read from YAML), validated, each knowing `source`."""
    out = []
    for i, entry in enumerate(_entries(raw, source)):
        if not isinstance(entry, dict):
            raise ConfigError(
                f"invalid adjustments {source}: adjustments.{i}: expected a mapping, got {entry!r}"
            )
        try:
            out.append(_with_source(Adjustment.model_validate(entry), source))
        except ValidationError as exc:
            raise ConfigError(
                format_errors(exc, f"invalid adjustments {source}:", ("adjustments", str(i)))
            ) from None
    return out


def dump_adjustments(adjs: Sequence[Adjustment]) -> str:
    """YAML text of a file holding these adjustments."""
    rows = [a.model_dump() for a in adjs]
    body = yaml.safe_dump(
        {"adjustments": rows}, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return HEADER + body


def check_unique_ids(adjs: Sequence[Adjustment]) -> None:
    """Raise ConfigError naming both sources when an id is used twice."""
    seen: dict[str, Adjustment] = {}
    for adj in adjs:
        if adj.id in seen:
            raise ConfigError(
                f"adjustment id {adj.id!r} is used twice: in {seen[adj.id].source} and in {adj.source}"
            )
        seen[adj.id] = adj


def new_id(market: str, start: date | str, kind: str, taken: Iterable[str] = ()) -> str:
    """A readable unique id: '<market>-<yyyymmdd>-<kind>', with '-2', '-3' ... when taken."""
    base = f"{market}-{pd.Timestamp(start):%Y%m%d}-{kind}"
    taken = set(taken)
    n, candidate = 1, base
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def make_adjustment(
    market: str,
    start: date | str,
    end: date | str,
    kind: str,
    value: float,
    reason: str,
    author: str,
    *,
    taken: Iterable[str] = (),
    id: str | None = None,  # noqa: A002
    created: datetime | None = None,
) -> Adjustment:
    """A new adjustment with a generated id and the creation time (UTC, to the second)."""
    when = (created or datetime.now(UTC)).replace(microsecond=0)
    fields = {
        "id": id or new_id(market, start, kind, taken),
        "market": market,
        "start": pd.Timestamp(start).date(),
        "end": pd.Timestamp(end).date(),
        "kind": kind,
        "value": value,
        "reason": reason,
        "author": author,
        "created": when,
    }
    try:
        return Adjustment.model_validate(fields)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, "invalid adjustment:")) from None


# --- validation ---------------------------------------------------------------------------


def horizon_dates(last: pd.Timestamp | str, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The forecast dates after the last observed period (what the applier produces)."""
    return pd.date_range(pd.Timestamp(last), periods=horizon + 1, freq=freq)[1:]


def _unknown_market(adj: Adjustment, markets: Sequence[str]) -> str:
    """The error text of a market no run knows, with the closest codes."""
    close = difflib.get_close_matches(adj.market, list(markets), n=3)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else f"; known: {', '.join(sorted(markets)[:12])} ..."
    )
    return f"adjustment {adj.id} ({adj.source}): unknown market {adj.market!r}{hint}"


def _outside(adj: Adjustment, dates: pd.DatetimeIndex) -> str:
    """The error text of a period that covers no forecast date."""
    span = f"{dates[0]:%Y-%m-%d} .. {dates[-1]:%Y-%m-%d}" if len(dates) else "(empty)"
    return (
        f"adjustment {adj.id} ({adj.source}): period {adj.start} .. {adj.end} covers no forecast period; "
        f"the horizon has periods starting {span} (dates are period starts)"
    )


def expired(adjs: Iterable[Adjustment], dates: pd.DatetimeIndex) -> list[Adjustment]:
    """Adjustments whose period ended before the first forecast date (kept as a record, not applied)."""
    return [a for a in adjs if len(dates) and pd.Timestamp(a.end) < dates[0]]


def overlap(a: Adjustment, b: Adjustment) -> tuple[date, date] | None:
    """The common period of two adjustments of one market, or None."""
    if a.market != b.market:
        return None
    lo, hi = max(a.start, b.start), min(a.end, b.end)
    return (lo, hi) if lo <= hi else None


def conflicts(a: Adjustment, b: Adjustment) -> bool:
    """Whether two adjustments overlap in a way whose result would depend on their order."""
    return overlap(a, b) is not None and not (a.kind == b.kind and a.kind in STACKABLE)


def check_conflicts(adjs: Sequence[Adjustment]) -> None:
    """Raise ConfigError naming both ids for the first pair of conflicting adjustments."""
    for i, a in enumerate(adjs):
        for b in adjs[i + 1 :]:
            if conflicts(a, b):
                lo, hi = overlap(a, b)  # type: ignore[misc]
                raise ConfigError(
                    f"adjustments {a.id} ({a.source}) and {b.id} ({b.source}) conflict: both change {a.market} "
                    f"from {lo} to {hi} ({a.kind} and {b.kind}); only multiplicative with multiplicative or "
                    f"additive with additive can overlap; shorten a period or remove one"
                )


def validate_adjustments(
    adjs: Sequence[Adjustment],
    markets: Sequence[str],
    dates: pd.DatetimeIndex,
    allow_expired: bool = False,
) -> None:
    """Raise ConfigError on an unknown market, a period outside the horizon or conflicting overlaps."""
    known = set(markets)
    dates = pd.DatetimeIndex(dates)
    for adj in adjs:
        if adj.market not in known:
            raise ConfigError(_unknown_market(adj, markets))
        if allow_expired and len(dates) and pd.Timestamp(adj.end) < dates[0]:
            continue
        if not adj.covers(dates).any():
            raise ConfigError(_outside(adj, dates))
    check_conflicts(adjs)


# --- applying -----------------------------------------------------------------------------


def value_columns(forecast: pd.DataFrame) -> list[str]:
    """yhat and its interval bounds (yhat_lo_L, yhat_hi_L), as the forecast contract names them."""
    return contract_value_columns(list(forecast.columns))


def base_of(forecast: pd.DataFrame) -> pd.DataFrame:
    """The forecast before any adjustment: `<col>_base` values restored, trace columns dropped."""
    out = forecast.copy()
    for col in value_columns(out):
        if f"{col}_base" in out:
            out[col] = out[f"{col}_base"]
    return out.drop(columns=[c for c in out.columns if c.endswith("_base") or c == "adjustment_id"])


def _shift(adj: Adjustment, base: np.ndarray, dates: pd.DatetimeIndex) -> np.ndarray:
    """How much yhat moves at each date for an additive-type adjustment (level_shift, ramp, additive)."""
    if adj.kind == "additive":
        return np.full(len(base), adj.value)
    if adj.kind == "level_shift":
        return np.full(len(base), adj.value - float(np.mean(base)))
    span = (pd.Timestamp(adj.end) - pd.Timestamp(adj.start)).days
    days = np.asarray((dates - pd.Timestamp(adj.start)).days, dtype="float64")
    w = days / span if span else np.ones(len(base))
    return w * (adj.value - base)


def _check_size(adj: Adjustment, base: pd.Series) -> None:
    """An additive amount or a target level within MAX_FACTOR times the market's largest base forecast."""
    scale = float(np.nanmax(np.abs(base.to_numpy(dtype="float64")), initial=0.0))
    limit = MAX_FACTOR * max(scale, 1.0)
    if abs(adj.value) > limit:
        raise ConfigError(
            f"adjustment {adj.id} ({adj.source}): {adj.kind} value {adj.value:g} is more than "
            f"{MAX_FACTOR:g} times {adj.market}'s largest forecast ({scale:.6g}); "
            "check the units (values are per period, in the metric's units)"
        )


def _apply_one(out: pd.DataFrame, adj: Adjustment, cols: list[str]) -> None:
    """Apply one adjustment in place to its market's rows in the period."""
    mask = (out["market"].astype(str) == adj.market).to_numpy() & adj.covers(out["date"])
    if not mask.any():
        return
    if adj.kind == "multiplicative":
        out.loc[mask, cols] = out.loc[mask, cols].to_numpy() * adj.value
    else:
        _check_size(adj, out.loc[out["market"].astype(str) == adj.market, "yhat_base"])
        shift = _shift(
            adj, out.loc[mask, "yhat"].to_numpy(), pd.DatetimeIndex(out.loc[mask, "date"])
        )
        out.loc[mask, cols] = out.loc[mask, cols].to_numpy() + shift[:, None]
    ids = out.loc[mask, "adjustment_id"]
    out.loc[mask, "adjustment_id"] = [adj.id if pd.isna(i) else f"{i}+{adj.id}" for i in ids]


def apply_adjustments(forecast: pd.DataFrame, adjs: Sequence[Adjustment]) -> pd.DataFrame:
    """The forecast with the adjustments applied, `<col>_base` and `adjustment_id` beside the values."""
    check_conflicts(adjs)
    out = base_of(forecast)
    out["date"] = pd.to_datetime(out["date"])
    cols = value_columns(out)
    out[cols] = out[cols].astype("float64")
    for col in cols:
        out[f"{col}_base"] = out[col]
    out["adjustment_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    for adj in sorted(adjs, key=lambda a: (a.market, a.start, a.id)):
        _apply_one(out, adj, cols)
    out[cols] = out[cols].clip(lower=0.0)
    return out


def preview(
    forecast: pd.DataFrame, adj: Adjustment, existing: Sequence[Adjustment] = ()
) -> pd.DataFrame:
    """The market's forecast rows with the saved adjustments and the new one applied (not saved)."""
    mine = [a for a in existing if a.market == adj.market and a.id != adj.id]
    rows = forecast[forecast["market"].astype(str) == adj.market]
    return apply_adjustments(rows, [*mine, adj]).reset_index(drop=True)


def adjustments_table(
    adjs: Sequence[Adjustment], forecast: pd.DataFrame | None = None
) -> pd.DataFrame:
    """adjustments.parquet: one row per adjustment, with the forecast periods it changed."""
    cols = [
        "adjustment_id",
        "market",
        "start",
        "end",
        "kind",
        "value",
        "reason",
        "author",
        "created",
        "source",
        "periods",
    ]
    rows = []
    for a in adjs:
        periods = 0
        if forecast is not None and len(forecast):
            hit = forecast[forecast["market"].astype(str) == a.market]
            periods = int(a.covers(hit["date"]).sum())
        rows.append(
            {
                "adjustment_id": a.id,
                "market": a.market,
                "start": pd.Timestamp(a.start),
                "end": pd.Timestamp(a.end),
                "kind": a.kind,
                "value": a.value,
                "reason": a.reason,
                "author": a.author,
                "created": pd.Timestamp(a.created),
                "source": a.source,
                "periods": periods,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def changes(rows: pd.DataFrame) -> pd.DataFrame:
    """The adjusted rows of a forecast: market, date, yhat_base, yhat, change, change_pct, adjustment_id."""
    hit = rows[rows["adjustment_id"].notna()]
    out = hit[["market", "date", "yhat_base", "yhat", "adjustment_id"]].copy()
    out.insert(4, "change", out["yhat"] - out["yhat_base"])
    out.insert(5, "change_pct", (100 * out["change"] / out["yhat_base"]).round(2))
    return out.reset_index(drop=True)


def effects(forecast: pd.DataFrame, adjs: Sequence[Adjustment]) -> list[str]:
    """One console line per adjustment: what it is, its total change in the adjusted forecast, who and why."""
    lines = []
    for a in adjs:
        hit = forecast[
            forecast["adjustment_id"].fillna("").str.split("+").map(lambda ids, i=a.id: i in ids)
        ]
        if hit.empty:
            lines.append(f"{a.id}: {a.describe()}: not in this forecast's horizon")
            continue
        delta, base = float((hit["yhat"] - hit["yhat_base"]).sum()), float(hit["yhat_base"].sum())
        pct = f" ({100 * delta / base:+.1f}%)" if base > 0 else ""
        lines.append(
            f"{a.id}: {a.describe()}: {delta:+,.0f} over {len(hit)} period(s){pct}; {a.reason} ({a.author})"
        )
    return lines

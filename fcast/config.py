"""Run configuration: YAML files validated with pydantic before any compute."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from fcast.data.calendar import parse_event_calendars
from fcast.data.clean import parse_disruptions
from fcast.data.qa import QAConfig
from fcast.errors import ConfigError
from fcast.infra.cluster import ClusterConfig
from fcast.infra.warehouse import SqlActuals, SqlSink, resolve_paths
from fcast.markets.hierarchy import HierarchyConfig
from fcast.markets.proxy_options import NewMarketsConfig
from fcast.options import Options
from fcast.output.qc import QCConfig
from fcast.yamlio import format_errors, read_yaml

Metric = Literal["mae", "rmse", "mape", "smape", "mase"]


_Strict = Options


class ColumnsConfig(_Strict):
    """Which of the data file's columns hold the market, the date and the value."""

    market: str = Field("market", min_length=1, description="the file's market column")
    date: str = Field("date", min_length=1, description="the file's date column")
    value: str | None = Field(
        None, min_length=1, description="the file's value column; default: data.value"
    )


class DataConfig(_Strict):
    """Where the actuals come from and how to read them."""

    actuals: str | SqlActuals = Field(
        description="file URL (CSV/Parquet) or {sql: {url, query | table, credentials}}"
    )
    value: str = Field("users", description="name of the value (default: data.columns.value)")
    freq: str = "W-MON"
    markets: str | None = None
    ragged: Literal["per_market", "align", "error"] = Field(
        "per_market",
        description="markets ending on different dates: per_market (each forecast and "
        "cross-validated from its own last actual), align (every market cut at the earliest "
        "end) or error (refuse, naming them)",
    )
    columns: ColumnsConfig = Field(
        ColumnsConfig(),
        description="the file's column names: {market: country, date: month, value: sessions}",
    )

    @model_validator(mode="after")
    def _value_from_columns(self) -> DataConfig:
        if self.columns.value and "value" not in self.model_fields_set:
            self.value = self.columns.value  # the file's value column names the value
        renamed = self.columns.model_dump(exclude_defaults=True)
        if renamed and not isinstance(self.actuals, str):
            raise ValueError(
                "data.columns renames a file's columns; for a SQL source name them in the "
                "query instead (SELECT country AS market, month AS date, ...)"
            )
        return self

    @property
    def column_map(self) -> dict[str, str] | None:
        """`data.columns` as given (None when the file uses market, date and data.value)."""
        given = self.columns.model_dump(exclude_none=True)
        default = {"market": "market", "date": "date", "value": self.value}
        return None if all(default[k] == v for k, v in given.items()) else given

    @field_validator("freq")
    @classmethod
    def _known_freq(cls, v: str) -> str:
        try:
            pd.tseries.frequencies.to_offset(v)
        except ValueError as exc:
            raise ValueError(f"unknown pandas frequency {v!r} (e.g. W-MON, D, MS, QS)") from exc
        return v


class CVConfig(_Strict):
    """Rolling-origin cross-validation: number of splits, step between cutoffs, final holdout."""

    splits: int = Field(4, ge=1)
    step: int = Field(13, ge=1)
    holdout: int = Field(13, ge=0)
    horizon: int | None = Field(
        None, ge=1, description="test window per split; default: run horizon"
    )
    min_train: int | None = Field(
        None, ge=2, description="shortest training window; default 2 seasons"
    )


class TuneConfig(_Strict):
    """How tuning is chunked and scored."""

    metric: Metric = "mase"
    block_markets: int | None = Field(
        None,
        ge=1,
        description="markets per tuning block; default: sized from the fit count and the cluster's threads",
    )
    block_hps: int = Field(32, ge=1)
    in_process_below: int = Field(
        300,
        ge=0,
        description="run in-process, without starting a cluster, below this many fits (0: never)",
    )
    task_timeout: float | None = Field(
        None, gt=0, description="seconds a tuning block may run before it is cancelled and reported"
    )


class SelectConfig(_Strict):
    """How the error cube is reduced to one model (or an ensemble) per market."""

    top: int = Field(3, ge=1)
    combine: Literal["best", "mean", "median"] = "best"
    weights: Literal["equal", "linear", "exponential"] | list[float] = "linear"
    weighting: str | list[str] = Field(
        "equal",
        description="member weights for mean/median: equal, inverse_error, stacked, or a list "
        "of them to choose from on the holdout (fcast.core.weighting)",
    )
    max_age_days: int | None = Field(
        180, ge=1, description="weekly runs warn about markets whose tuned selection is older"
    )


class SegmentsConfig(_Strict):
    """How markets are split into segments: mature, new (incl. pre-launch) and custom."""

    min_history: int | None = Field(
        None,
        ge=1,
        description="periods of history a market needs to be mature; default: what CV needs",
    )
    custom: list[str] = Field(default_factory=list, description="markets handled as custom")


class CleanConfig(_Strict):
    """Removal of one-time disruptions before mature-market models train."""

    events: str | None = Field(
        None, description="YAML of known disruptions: events: [{market, start, end, kind, note}]"
    )
    auto: bool = Field(False, description="also remove automatically detected disruptions")
    near_zero: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="a period at or below this share of the local level is near zero (zero runs)",
    )
    max_zero_periods: int | None = Field(
        None,
        ge=1,
        description="longest zero run removed automatically (longer: proposed for review); "
        "default a quarter season (weekly: 13)",
    )
    charts: int | None = Field(
        20,
        ge=0,
        description="before/after charts per run for at most this many cleaned markets, the "
        "largest changes first (0: none, null: every cleaned market)",
    )


class CustomModelConfig(_Strict):
    """A custom market forced to one model family (built-in or extension) and parameters."""

    family: str
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = None


class SearchConfig(_Strict):
    """How the hp space is searched: the full grid, or successive halving over splits."""

    strategy: Literal["grid", "halving"] = "grid"
    keep: float = Field(
        0.33, gt=0, le=1, description="share of hps per market kept after each split"
    )


class HolidaysConfig(_Strict):
    """Holiday features for families that take regressors (see the built-in space `holidays`, fcast/spaces/holidays.yaml)."""

    lead: int = Field(0, ge=0, description="lead columns per holiday group (periods before)")
    lag: int = Field(0, ge=0, description="lag columns per holiday group (periods after)")
    events: str | None = Field(
        None, description="YAML of custom event calendars: events: {name: [date or range]}"
    )
    country: dict[str, str] = Field(
        default_factory=dict,
        description="market code -> holidays country code (wins over the markets table's country column)",
    )


class PublishConfig(_Strict):
    """Where `fcast publish` delivers an official vintage besides the store."""

    sql: SqlSink | None = Field(
        None, description="also append the vintage to a SQL table ({} = the store's DuckDB)"
    )
    headline: int | None = Field(
        None,
        ge=1,
        description="periods ahead the headline looks: its last quarter end; default: the horizon",
    )


class RunConfig(_Strict):
    """A complete run configuration (`fcast run tuning|weekly -c CONFIG`)."""

    data: DataConfig
    horizon: int = Field(52, ge=1)
    cv: CVConfig = CVConfig()
    space: str | None = Field(
        None,
        description="space YAML path, or a built-in name (weekly, monthly, ...); default: the built-in one for data.freq",
    )
    tune: TuneConfig = TuneConfig()
    select: SelectConfig = SelectConfig()
    segments: SegmentsConfig = SegmentsConfig()
    qa: QAConfig = QAConfig()
    clean: CleanConfig = CleanConfig()
    new_markets: NewMarketsConfig = NewMarketsConfig()
    hierarchy: HierarchyConfig | None = Field(
        None, description="totals and groups: reconciled forecasts of the total and groups"
    )
    custom: dict[str, CustomModelConfig] = Field(
        default_factory=dict, description="market -> forced model"
    )
    adjustments: str | None = Field(
        None, description="business input: a YAML file or a folder of them"
    )
    qc: QCConfig = QCConfig()
    holidays: HolidaysConfig = HolidaysConfig()
    search: SearchConfig = SearchConfig()
    publish: PublishConfig = PublishConfig()
    levels: list[int] = [80, 95]
    intervals: Literal["model", "conformal", "scaled"] = Field(
        "model",
        description="mature-market intervals: the models' own (combined like the forecast), "
        "conformal from the CV residuals of the combined forecast, or the models' own narrowed "
        "by the combination's CV error gain over its median member (fcast.core.conformal)",
    )
    store: str = "./fcast-store"
    cluster: ClusterConfig = ClusterConfig()
    source: str | None = Field(
        None, description="file the config was read from (set by the loader)"
    )
    _space_digest: str | None = PrivateAttr(None)

    @field_validator("cluster", mode="before")
    @classmethod
    def _cluster_shorthand(cls, v: Any) -> Any:
        if v == "local" or v is None:
            return {"local": {}}
        if isinstance(v, str) and v.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            return {"address": v}
        if isinstance(v, str):
            raise ValueError(f"expected 'local', a scheduler address or a mapping, got {v!r}")
        return v

    @field_validator("levels")
    @classmethod
    def _levels_in_range(cls, v: list[int]) -> list[int]:
        bad = [lv for lv in v if not 0 < lv < 100]
        if bad:
            raise ValueError(f"interval levels must be between 0 and 100, got {bad}")
        return sorted(set(v))

    @model_validator(mode="after")
    def _split_weights(self) -> RunConfig:
        w = self.select.weights
        if isinstance(w, list):
            if len(w) != self.cv.splits:
                raise ValueError(
                    f"select.weights: {len(w)} weights for {self.cv.splits} CV splits (cv.splits); give one per split"
                )
            if any(x < 0 for x in w) or sum(w) <= 0:
                raise ValueError(
                    f"select.weights: weights must be non-negative with a positive sum, got {w}"
                )
        return self

    @model_validator(mode="after")
    def _weighting(self) -> RunConfig:
        from fcast.core.weighting import WEIGHTINGS

        w = self.select.weighting
        names = [w] if isinstance(w, str) else list(w)
        unknown = [n for n in names if n not in WEIGHTINGS]
        if unknown or not names:
            raise ValueError(
                f"select.weighting: unknown {unknown or names}; choose from {sorted(WEIGHTINGS)} (or a list of them)"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"select.weighting: {names} names a strategy twice")
        if names != ["equal"] and self.select.combine == "best":
            raise ValueError(
                "select.weighting: learned weights need combine: mean or median (best keeps one member)"
            )
        return self

    @model_validator(mode="after")
    def _conformal_horizon(self) -> RunConfig:
        if self.intervals == "conformal" and self.cv_horizon < self.horizon:
            raise ValueError(
                f"intervals: conformal needs CV windows as long as the horizon: cv.horizon "
                f"{self.cv_horizon} < horizon {self.horizon}"
            )
        return self

    @model_validator(mode="after")
    def _custom_have_models(self) -> RunConfig:
        missing = sorted(set(self.segments.custom) - set(self.custom))
        if missing:
            raise ValueError(
                f"segments.custom lists {missing} without a model under custom: (family, params)"
            )
        return self

    @property
    def custom_markets(self) -> list[str]:
        """Markets handled as custom: listed under segments.custom or given a forced model."""
        return sorted(set(self.segments.custom) | set(self.custom))

    @property
    def cv_horizon(self) -> int:
        """Test-window length of each CV split."""
        return self.cv.horizon or self.horizon

    def fingerprint(self) -> str:
        """A short hash of everything that changes the numbers."""
        payload = self.model_dump(exclude={"source", "cluster", "store"})
        payload["space"] = self._space_digest or self.space  # the space's contents once loaded
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _resolve(path: str | None, base: Path) -> str | None:
    """Resolve a relative local path against the config's folder; leave URLs alone."""
    if path is None or "://" in path or Path(path).is_absolute():
        return path
    return str((base / path).resolve())


def parse_config(
    raw: dict[str, Any], source: str = "<dict>", base: Path | None = None
) -> RunConfig:
    """Validate a config mapping; relative paths resolve against `base`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config {source}: expected a mapping at the top level")
    try:
        cfg = RunConfig.model_validate({**raw, "source": source})
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, f"invalid config {source}:")) from None
    if base is not None:
        if isinstance(cfg.data.actuals, str):
            cfg.data.actuals = _resolve(cfg.data.actuals, base)  # type: ignore[assignment]
        else:
            resolve_paths(cfg.data.actuals.sql, base)
        if cfg.publish.sql is not None:
            resolve_paths(cfg.publish.sql, base)
        cfg.data.markets = _resolve(cfg.data.markets, base)
        cfg.store = _resolve(cfg.store, base)  # type: ignore[assignment]
        cfg.clean.events = _resolve(cfg.clean.events, base)
        cfg.holidays.events = _resolve(cfg.holidays.events, base)
        cfg.adjustments = _resolve(cfg.adjustments, base)
        cfg.qc.totals = _resolve(cfg.qc.totals, base)
        if cfg.cluster.kubernetes:
            cfg.cluster.kubernetes.spec = _resolve(cfg.cluster.kubernetes.spec, base)  # type: ignore[assignment]
    cfg.space = _space_file(cfg.space, cfg.data.freq, base)
    return cfg


def _space_file(space: str | None, freq: str, base: Path | None) -> str:
    """The space file a config uses: its path, a built-in name's file, or the default for `freq`."""
    from fcast.core.space import builtin_space, default_space, is_space_name

    if space is None:
        return str(default_space(freq))
    if is_space_name(space):
        return str(builtin_space(space))
    return space if base is None else str(_resolve(space, base))


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a run config; the space file it names is validated too."""
    p = Path(path).resolve()
    cfg = parse_config(read_yaml(p), source=str(path), base=p.parent)
    from fcast.core.space import load_space  # local import: space depends on config errors only

    cfg._space_digest = load_space(cfg.space, freq=cfg.data.freq).attrs["space"]
    if cfg.clean.events:
        load_disruptions(cfg.clean.events)
    if cfg.holidays.events:
        load_event_calendars(cfg.holidays.events)
    return cfg


def load_disruptions(path: str | Path) -> pd.DataFrame:
    """The known disruptions of `clean.events` (see configs/events.yaml), read and validated."""
    return parse_disruptions(read_yaml(path, what="events file"), source=str(path))


def load_event_calendars(path: str | Path) -> dict[str, list[str]]:
    """The custom event calendars of `holidays.events` (name -> dates), read and validated."""
    return parse_event_calendars(read_yaml(path, what="event calendars file"), source=str(path))

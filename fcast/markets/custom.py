"""Custom markets: a market forced to one model (built-in or extension family) instead of tuning.

The run config lists them under ``custom: {IS: {family: theta, params: {...}, reason: ...}}``;
`custom_members` turns that mapping (of config models or plain dicts) into applier members,
so a custom market is refitted like a tuned one with a selection of one model of weight 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fcast.core.apply import Member
from fcast.core.models import Model
from fcast.errors import ConfigError


def _field(spec: Any, name: str) -> Any:  # noqa: ANN401
    """A field of a spec given as a mapping or as an object."""
    return spec[name] if isinstance(spec, Mapping) else getattr(spec, name)


def custom_members(custom: Mapping[str, Any], season_length: int) -> dict[str, list[Member]]:
    """Each custom market's forced model as applier members: {market: [(Model, 1.0)]}."""
    out: dict[str, list[Member]] = {}
    for market, spec in custom.items():
        family, params = _field(spec, "family"), _field(spec, "params") or {}
        try:
            model = Model.create(family, params, season_length)
        except (KeyError, ValueError, TypeError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            raise ConfigError(f"custom.{market}: {msg}") from None
        problem = model.check()
        if problem:
            raise ConfigError(f"custom.{market}.params: {problem}")
        out[str(market)] = [(model, 1.0)]
    return out


__all__ = ["custom_members"]

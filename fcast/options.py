"""The base of every option model: the stages define their own options, config composes them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    """Strict pydantic model: an unknown key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

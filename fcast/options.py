"""The base of every option model: the stages define their own options, config composes them."""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _numeric(annotation: Any) -> bool:
    """Whether a field's annotation admits int or float (and not bool itself)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in args)
    if typing.get_origin(annotation) is list:
        return bool(args) and _numeric(args[0])
    return annotation in (int, float)


class Options(BaseModel):
    """Strict pydantic model: unknown keys are errors; numbers are never booleans or NaN."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _plain_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is None or not _numeric(field.annotation):
            return value
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool):
                raise ValueError(
                    f"expected a number, got the boolean {v} (YAML reads yes/no/true/false as booleans)"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"expected a finite number, got {v}")
        return value

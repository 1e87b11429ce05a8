"""Text formatting shared by the insights and the report: counts, changes, percentages, vintages."""

from __future__ import annotations

import math
from typing import Any


def fmt_count(x: float, digits: int = 3) -> str:
    """A count in short form with `digits` significant digits: 1.23B, 12.3M, 845k, 950."""
    if x is None or math.isnan(x):
        return "n/a"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.0f}"


def human_numbers(table: Any, at_least: float = 1e4) -> Any:
    """A copy of a DataFrame whose large float columns (|max| >= at_least) read 1.43M, 845k."""
    out = table.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype.kind == "f" and values.abs().max() >= at_least:
            out[col] = [fmt_count(v) for v in values]
    return out


def fmt_delta(x: float) -> str:
    """A signed count in short form: +1.2M, -45.3k."""
    return ("+" if x >= 0 else "-") + fmt_count(abs(x))


def fmt_pct(x: float) -> str:
    """A signed percentage with one decimal: +2.4%."""
    return "n/a" if x is None or math.isnan(x) else f"{x:+.1f}%"


def change(pct: float, delta: float, rounding: float = 0.05) -> str:
    """'up 2.4% (+1.2M)', 'down ...' or 'unchanged' (within rounding)."""
    if math.isnan(pct):
        return "not comparable"
    if abs(pct) < rounding:
        return "unchanged"
    return f"{'up' if pct > 0 else 'down'} {abs(pct):.1f}% ({fmt_delta(delta)})"


def adjustment_amount(kind: Any, value: Any) -> str:
    """'+10%' for a percentage adjustment, else 'kind value' (e.g. 'level 5000')."""
    if str(kind) in ("pct", "percent", "multiply_pct") and isinstance(value, int | float):
        return f"{value:+g}%"
    return f"{kind} {value}"


def vintage_ref(name: str, meta: dict[str, dict[str, Any]]) -> str:
    """'demo-1 (data to 2026-09-21)' with what is known about a vintage."""
    data_end = meta.get(name, {}).get("data_end")
    return f"{name} (data to {data_end})" if data_end else name


def fmt_int(x: float) -> str:
    """A whole count with thousands separators: 12,480."""
    return "n/a" if x is None or math.isnan(x) else f"{x:,.0f}"


def _decimals(values: Any, most: int = 3) -> int:
    """The fewest decimals (at most `most`) that show every value of a float column exactly."""
    finite = [v for v in values if v == v]
    for d in range(most + 1):
        if all(abs(v - round(v, d)) < 1e-9 for v in finite):
            return d
    return most


def human_column(name: str, values: Any) -> tuple[str, list[str]]:
    """One table column as text: counts 1.43M / 12,480, errors with fixed decimals, ages '3 d'."""
    import pandas as pd

    s = pd.Series(values).reset_index(drop=True)
    kind = s.dtype.kind

    def each(fmt: Any) -> list[str]:
        return ["" if pd.isna(v) else fmt(v) for v in s]

    if name.endswith("_days") and kind in "iuf":
        return name.removesuffix("_days"), each(lambda v: f"{v:.0f} d")
    if kind == "f" and name.endswith("_pct"):
        return name, each(fmt_pct)
    if kind == "f" and s.abs().max() >= 1e4:
        return name, each(fmt_count)
    if kind == "f":
        d = _decimals(s)
        return name, each(lambda v: f"{v:.{d}f}")
    if kind in "iu":
        return name, each(fmt_int)
    if kind == "M":
        known = s.dropna()
        fmt = "%Y-%m-%d" if (known.dt.normalize() == known).all() else "%Y-%m-%d %H:%M"
        return name, each(lambda v: v.strftime(fmt))
    return name, each(str)


def human_table(table: Any) -> Any:
    """A copy of a DataFrame as text for a terminal: every column through `human_column`."""
    import pandas as pd

    columns = [human_column(str(c), table[c]) for c in table.columns]
    return pd.DataFrame({name: text for name, text in columns}, index=table.index)

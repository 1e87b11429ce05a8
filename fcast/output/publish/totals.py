"""The insights' section on the total and the groups: reconciled values with their bands, and adjustments.

Written from the aggregate rows of a run (`RunArtifacts.totals`, `level` != market) at the
key checkpoint of the headline: the total with its 80/95% intervals, each group with its
share of the total, and how much of the total (and of its change against the last vintage)
comes from business adjustments (``yhat - yhat_base`` of the total row).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from fcast.contract import LEVEL_COLUMN, levels_in
from fcast.markets.hierarchy import TOTAL_LEVEL
from fcast.names import quote_text as q
from fcast.output.publish.artifacts import RunArtifacts
from fcast.output.publish.comparison import TOTAL, key_checkpoint
from fcast.output.publish.formatting import fmt_count, fmt_delta


def band(row: dict[str, Any], levels: list[int]) -> str:
    """'80%: 230M to 244M; 95%: 226M to 249M' for one forecast row."""
    return "; ".join(
        f"{lv}%: {fmt_count(row[f'yhat_lo_{lv}'])} to {fmt_count(row[f'yhat_hi_{lv}'])}"
        for lv in levels
    )


def _key_rows(
    run: RunArtifacts, comparison: pd.DataFrame, names: list[str]
) -> tuple[pd.DataFrame, dict]:
    """The aggregate rows at the week of the headline's checkpoint, and that checkpoint's TOTAL row."""
    key = key_checkpoint(comparison, names[0] if names else None) or key_checkpoint(comparison)
    if key is None or run.totals is None or run.totals.empty:
        return pd.DataFrame(), {}
    total = comparison[(comparison["market"] == TOTAL) & (comparison["checkpoint"] == key)]
    first = total.iloc[0].to_dict()
    rows = run.totals[pd.to_datetime(run.totals["date"]) == pd.Timestamp(first["date"])]
    return rows, first


def _adjustment_line(total: dict[str, Any], first: dict[str, Any], names: list[str]) -> str:
    """How much of the total, and of its change against the last vintage, the adjustments make."""
    base = total.get("yhat_base")
    if base is None or (isinstance(base, float) and math.isnan(base)):
        return "No business adjustment changes the total at that date."
    part = float(total["yhat"] - base)
    if abs(part) < 0.5:
        return "No business adjustment changes the total at that date."
    text = f"Business adjustments make {fmt_delta(part)} of the total at that date"
    diff = first.get("diff")
    if names and diff is not None and not math.isnan(diff) and abs(diff) >= 0.5:
        text += (
            f"; of the change of {fmt_delta(diff)} against {names[0]}, "
            f"{fmt_delta(part)} comes from adjustments and {fmt_delta(diff - part)} from the models"
            " (if the last vintage had no adjustments)"
        )
    return text + "."


def totals_section(run: RunArtifacts, comparison: pd.DataFrame, names: list[str]) -> list[str]:
    """Markdown lines: the reconciled total and groups with bands at the key checkpoint."""
    rows, first = _key_rows(run, comparison, names)
    if rows.empty:
        return []
    levels = levels_in(list(rows.columns))
    total = rows[rows[LEVEL_COLUMN] == TOTAL_LEVEL].iloc[0].to_dict()
    method = str(total.get("family", "")).split("(")[0]
    lines = [
        f"## Total and groups ({first['label']})",
        f"Total {run.value}: **{fmt_count(total['yhat'])}** ({band(total, levels)}); "
        f"markets, groups and total add up ({method.replace('_', '-')} reconciliation).",
    ]
    for level in [lv for lv in dict.fromkeys(rows[LEVEL_COLUMN]) if lv != TOTAL_LEVEL]:
        group = rows[rows[LEVEL_COLUMN] == level].sort_values("yhat", ascending=False)
        lines.append(f"By {q(level)}:")
        for r in group.to_dict("records"):
            share = 100 * r["yhat"] / total["yhat"] if total["yhat"] else float("nan")
            lines.append(
                f"- {q(r['market'])}: {fmt_count(r['yhat'])} ({band(r, levels)}), {share:.0f}% of the total"
            )
    lines.append(_adjustment_line(total, first, names))
    return lines

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
    if names and (total["vintage"] == names[0]).any():  # the change against the last vintage
        total = total[total["vintage"] == names[0]]
    first = total.iloc[0].to_dict()
    rows = run.totals[pd.to_datetime(run.totals["date"]) == pd.Timestamp(first["date"])]
    return rows, first


def _elsewhere(totals: pd.DataFrame) -> str:
    """Where in the horizon the adjustments move the total most, or that they never do."""
    rows = totals[totals[LEVEL_COLUMN] == TOTAL_LEVEL]
    if "yhat_base" not in rows or rows["yhat_base"].isna().all():
        return "No business adjustment changes the total."
    moved = (rows["yhat"] - rows["yhat_base"]).fillna(0.0)
    if moved.abs().max() < 0.5:
        return "No business adjustment changes the total."
    i = moved.abs().idxmax()
    return (
        "Business adjustments do not change the total at that date; they move it most in the "
        f"{pd.Timestamp(rows.loc[i, 'date']):%Y-%m-%d} period, by {fmt_delta(float(moved[i]))}."
    )


def _adjustment_line(
    totals: pd.DataFrame, total: dict[str, Any], first: dict[str, Any], before: float | None
) -> str:
    """How much of the total, and of its change against the last vintage, the adjustments make."""
    base = total.get("yhat_base")
    if (
        base is None
        or (isinstance(base, float) and math.isnan(base))
        or abs(total["yhat"] - base) < 0.5
    ):
        return _elsewhere(totals)
    part = float(total["yhat"] - base)
    text = f"Business adjustments make {fmt_delta(part)} of the total at that date"
    diff = first.get("diff")
    if before is not None and diff is not None and not math.isnan(diff) and abs(diff) >= 0.5:
        mine = part - before
        text += (
            f"; of the change of {fmt_delta(diff)} against {first['vintage']}, "
            f"{fmt_delta(mine)} comes from adjustments and {fmt_delta(diff - mine)} from the models"
        )
    return text + "."


def _adjusted_part(previous: pd.DataFrame | None, week: pd.Timestamp) -> float | None:
    """How much the adjustments added to a vintage's total (sum over markets of yhat - yhat_base) in a week."""
    if previous is None:
        return None
    rows = previous[pd.to_datetime(previous["date"]) == week]
    if "yhat_base" not in rows:
        return 0.0
    return float((rows["yhat"] - rows["yhat_base"].fillna(rows["yhat"])).sum())


def totals_section(
    run: RunArtifacts, comparison: pd.DataFrame, previous: dict[str, pd.DataFrame]
) -> list[str]:
    """Markdown lines: the reconciled total and groups with bands at the key checkpoint."""
    names = list(previous)
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
    last = previous.get(str(first.get("vintage"))) if names else None
    before = _adjusted_part(last, pd.Timestamp(first["date"]))
    lines.append(_adjustment_line(run.totals, total, first, before))
    return lines

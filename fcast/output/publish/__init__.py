"""What a publish says, as plain functions over tables: the comparison, the insights, their formatting.

- `comparison`: the new forecast against previous vintages at quarter and year ends
  (`compare`), the markets that moved most (`movers`), actuals against earlier vintages
  (`tracking`);
- `narrative`: the text of `insights.md` (`insights`);
- `formatting`: counts, changes and percentages as the insights and the report write them;
- `artifacts`: `RunArtifacts`, the run record these functions read.

None of them touches the store: `fcast.jobs.publish` reads the run, writes the vintage and
sends the channels.
"""

from fcast.output.publish.artifacts import OPTIONAL_TABLES, RunArtifacts, actuals_frame
from fcast.output.publish.comparison import (
    COMPARE_COLUMNS,
    TOTAL,
    TRACKING_COLUMNS,
    checkpoints,
    compare,
    headline_checkpoint,
    key_checkpoint,
    movers,
    period_name,
    period_step,
    tracking,
)
from fcast.output.publish.formatting import (
    adjustment_amount,
    fmt_count,
    fmt_delta,
    fmt_int,
    fmt_pct,
    human_column,
    human_numbers,
    human_table,
)
from fcast.output.publish.narrative import insights

__all__ = [
    "COMPARE_COLUMNS",
    "OPTIONAL_TABLES",
    "TOTAL",
    "TRACKING_COLUMNS",
    "RunArtifacts",
    "actuals_frame",
    "adjustment_amount",
    "checkpoints",
    "compare",
    "fmt_count",
    "fmt_int",
    "human_column",
    "human_numbers",
    "human_table",
    "fmt_delta",
    "fmt_pct",
    "insights",
    "headline_checkpoint",
    "key_checkpoint",
    "movers",
    "period_name",
    "period_step",
    "tracking",
]

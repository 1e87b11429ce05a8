"""Ingestion of actuals into the cube, and the built-in sample data."""

from fcast.data.ingest import (
    apply_columns,
    check_header,
    column_sources,
    file_hash,
    history_length,
    load_actuals,
    on_grid,
    read_header,
    read_table,
    restrict,
    season_length,
    time_of_day,
    timezone_aware,
    to_cube,
    to_frame,
    validate_actuals,
)

__all__ = [
    "apply_columns",
    "check_header",
    "column_sources",
    "file_hash",
    "history_length",
    "load_actuals",
    "on_grid",
    "read_header",
    "read_table",
    "restrict",
    "season_length",
    "time_of_day",
    "timezone_aware",
    "to_cube",
    "to_frame",
    "validate_actuals",
]

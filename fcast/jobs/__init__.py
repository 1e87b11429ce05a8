"""The tuning and weekly jobs: configuration in, stages composed, artifacts and manifest out.

`run_tuning` and `run_weekly` load on first use, so `fcast.jobs.adjust` and the other job
modules do not pull in the whole pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["run_tuning", "run_weekly"]


def __getattr__(name: str) -> Any:
    """run_tuning / run_weekly from their modules on first use."""
    if name == "run_tuning":
        from fcast.jobs.tuning import run_tuning

        return run_tuning
    if name == "run_weekly":
        from fcast.jobs.weekly import run_weekly

        return run_weekly
    raise AttributeError(f"module 'fcast.jobs' has no attribute {name!r}")


if TYPE_CHECKING:
    from fcast.jobs.tuning import run_tuning
    from fcast.jobs.weekly import run_weekly

"""The tuning and weekly jobs: configuration in, stages composed, artifacts and manifest out."""

from fcast.jobs.pipeline import run_tuning, run_weekly

__all__ = ["run_tuning", "run_weekly"]

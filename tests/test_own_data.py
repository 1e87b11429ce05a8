"""The issue's Done-when: a new user's own monthly CSV, from an empty folder outside the repository.

`fcast init` + `fcast run tuning` + `fcast run weekly` + `fcast publish --dry-run` through the
installed `fcast` console script, run in a tmp folder that holds nothing but the CSV the test
writes (other column names, monthly data): no config, space or data from the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def console_script() -> str:
    """The installed `fcast` script of this interpreter's environment."""
    path = Path(sys.executable).parent / "fcast"
    found = str(path) if path.exists() else shutil.which("fcast")
    if not found:
        pytest.fail(
            "no `fcast` console script installed next to the interpreter (pip install -e .)"
        )
    return found


def own_csv(path: Path) -> None:
    """Three markets, 60 months, columns month, country, sessions (NA is Namibia)."""
    rng = np.random.default_rng(3)
    rows = []
    for i, country in enumerate(("SE", "NA", "BR")):
        months = pd.date_range(end="2026-09-01", periods=60, freq="MS")
        t = np.arange(60)
        level = 1_000_000 * (i + 1) * (1 + 0.01 * t)
        season = 1 + 0.1 * np.sin(2 * np.pi * months.month / 12)
        values = level * season * (1 + rng.normal(0, 0.01, 60))
        rows += [
            {"month": f"{m:%Y-%m-%d}", "country": country, "sessions": round(v)}
            for m, v in zip(months, values, strict=True)
        ]
    pd.DataFrame(rows).to_csv(path, index=False)


def test_own_monthly_csv_init_tuning_weekly_preview(tmp_path):
    folder = tmp_path / "newuser"
    folder.mkdir()
    assert REPO not in folder.resolve().parents
    own_csv(folder / "sessions.csv")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}

    def fcast(*args: str) -> subprocess.CompletedProcess:
        res = subprocess.run(
            [console_script(), *args],
            cwd=folder,
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res

    res = fcast("init", "sessions.csv", "--space", "small")
    assert "3 markets, 60 monthly periods (freq MS)" in res.stdout
    assert "market=country, date=month, value=sessions" in res.stdout
    cfg = yaml.safe_load((folder / "fcast.yaml").read_text())
    assert cfg["data"]["columns"] == {"market": "country", "date": "month", "value": "sessions"}
    assert cfg["space"] == "small"  # a built-in space, found in the installed package

    assert "ok (5 hps" in fcast("validate").stdout
    tuning = fcast("run", "tuning")
    assert "chosen model per market" in tuning.stdout and "next: fcast run weekly" in tuning.stdout
    weekly = fcast("run", "weekly")
    assert "forecast: 36 rows for 3 markets" in weekly.stdout  # 12 months ahead

    preview = fcast("publish", "latest", "--dry-run", "--out", "preview")
    assert "preview of vintage 2026-09 <- run" in preview.stdout  # named after the data's month
    assert "nothing published" in preview.stdout
    text = (folder / "preview" / "insights.md").read_text()
    assert text.startswith("# Forecast 2026-09")
    assert "Total sessions at end of Q3 2027 (month of 2027-09-01)" in text
    assert not re.search(r"\bweeks?\b", text)  # monthly data speaks of months (run ids say weekly-)
    assert (folder / "preview" / "report" / "index.html").exists()
    store = folder / "fcast-store"
    assert not (store / "official").exists() or not any((store / "official").iterdir())
    forecast = pd.read_parquet(next((store / "runs").glob("weekly-*")) / "forecast.parquet")
    assert sorted(forecast["market"].unique()) == ["BR", "NA", "SE"]
    assert pd.Timestamp(forecast["date"].min()) == pd.Timestamp("2026-10-01")

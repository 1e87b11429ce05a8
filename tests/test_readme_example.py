"""The README's "From Python" example runs as a script (main guard), from a folder outside the repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "from_python.py"


def test_the_python_example_runs_as_a_script_with_hp_labels(tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "forecast: 156 rows for 3 markets" in res.stdout  # 52 weeks x SE, NO, DK
    rows = {line.split()[0] for line in res.stdout.splitlines() if line.strip()}
    assert {"harmonic(60.0)", "harmonic(600.0)", "label"} <= rows  # hps by label, not 0..2


def test_the_readme_shows_the_script():
    readme = (REPO / "README.md").read_text()
    code = SCRIPT.read_text()
    assert "examples/from_python.py" in readme
    for line in ('if __name__ == "__main__":', 'swap_dims(hp="label")'):
        assert line in code and line in readme

"""The CLI end to end: sample data -> `fcast run tuning` -> `fcast run weekly` on a 2-worker LocalCluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fcast.data.sample import make_sample, write_sample

FCAST = [sys.executable, "-m", "fcast.cli"]


def fcast(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*FCAST, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("proj")
    # 12 mature markets over 4 years (the default sample has 60 over 6): the CLI, not the fits, is under test
    write_sample(str(root / "data"), make_sample(n_mature=12, years=4.0))
    (root / "spaces").mkdir()
    (root / "spaces" / "tiny.yaml").write_text(
        yaml.safe_dump({"families": {"ets": {"spec": ["ANN"]}, "seasonal_naive": {}}})
    )
    config = {
        "data": {
            "actuals": "data/actuals.parquet",
            "value": "users",
            "freq": "W-MON",
            "markets": "data/markets.parquet",
        },
        "horizon": 26,
        "cv": {"splits": 2, "step": 13, "holdout": 8},
        "space": "spaces/tiny.yaml",
        "tune": {"block_markets": 20, "block_hps": 2, "in_process_below": 0},
        "select": {"top": 2},
        "store": "store",
        "cluster": {"local": {"workers": 2, "threads": 1}},
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    return root


def test_weekly_before_tuning_fails_clearly(project):
    res = fcast("run", "weekly", "-c", "run.yaml", cwd=project)
    assert res.returncode == 2
    assert "no tuning run in store" in res.stderr and "fcast run tuning" in res.stderr


def test_tuning_then_weekly(project):
    res = fcast("run", "tuning", "-c", "run.yaml", cwd=project)
    assert res.returncode == 0, res.stderr
    assert "chosen model per market" in res.stdout
    assert "cluster: 2 workers" in res.stderr and "tuning: " in res.stderr  # progress lines
    store = project / "store"
    run_id = json.loads((store / "latest" / "tuning.json").read_text())["run_id"]
    run = store / "runs" / run_id
    for name in (
        "manifest.json",
        "space.yaml",
        "tuning.zarr",
        "selection.parquet",
        "forecast.parquet",
        "forecast.zarr",
    ):
        assert (run / name).exists(), name
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["cluster"]["workers"] == 2
    assert {"load", "tune", "select", "apply", "new_markets"} <= set(manifest["timings"])
    assert len(manifest["input_hash"]) == 64
    mature = manifest["segments"]["mature"]
    assert len(mature) >= 10  # of the 12 (a market can be held back by QA or segmenting)

    res = fcast("run", "weekly", "-c", "run.yaml", cwd=project)
    assert res.returncode == 0, res.stderr
    weekly = sorted((store / "runs").glob("weekly-*"))[-1]
    fc = pd.read_parquet(weekly / "forecast.parquet")
    assert list(fc.columns) == [
        "market",
        "date",
        "yhat",
        "yhat_lo_80",
        "yhat_hi_80",
        "yhat_lo_95",
        "yhat_hi_95",
        "family",
        "segment",
        "origin",
    ]
    new = manifest["segments"]["new"]
    assert {"UZ", "LK", "BD", "PK"} <= set(new)  # pre-launch and recently launched markets
    assert sorted(fc["market"].unique()) == sorted(mature + new)  # every mature and new market
    assert set(fc.loc[fc["market"].isin(new), "segment"]) == {"new"}
    assert set(fc.loc[fc["market"].isin(new), "family"]) == {"proxy"}
    assert (weekly / "proxies.parquet").exists()
    assert (fc.groupby("market").size() == 26).all()
    values = fc[["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]].to_numpy()
    assert np.isfinite(values).all()
    assert (fc["yhat_lo_95"] <= fc["yhat_lo_80"] + 1e-9).all() and (
        fc["yhat_lo_80"] <= fc["yhat"] + 1e-9
    ).all()
    assert (fc["yhat"] <= fc["yhat_hi_80"] + 1e-9).all() and (
        fc["yhat_hi_80"] <= fc["yhat_hi_95"] + 1e-9
    ).all()
    assert (fc.loc[fc["market"].isin(mature), "segment"] == "mature").all()
    wm = json.loads((weekly / "manifest.json").read_text())
    assert wm["tuning_run"] == run_id and wm["status"] == "complete"


def test_weekly_subset_and_as_of(project):
    res = fcast(
        "run",
        "weekly",
        "-c",
        "run.yaml",
        "--markets",
        "SE,NO",
        "--as-of",
        "2026-06-01",
        cwd=project,
    )
    assert res.returncode == 0, res.stderr
    weekly = sorted((project / "store" / "runs").glob("weekly-*"))[-1]
    fc = pd.read_parquet(weekly / "forecast.parquet")
    assert sorted(fc["market"].unique()) == ["NO", "SE"]
    assert fc["date"].min() == pd.Timestamp("2026-06-08")


def test_unknown_market_and_bad_config(project, tmp_path):
    res = fcast("run", "weekly", "-c", "run.yaml", "--markets", "SE,XX", cwd=project)
    assert res.returncode == 2 and "unknown market(s) ['XX']" in res.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {actuals: a.csv}\ncv: {splits: zero}\n")
    res = fcast("validate", str(bad), cwd=project)
    assert res.returncode == 2 and "cv.splits" in res.stderr and "bad.yaml" in res.stderr


def test_small_run_says_it_runs_in_process(project):
    cfg = yaml.safe_load((project / "run.yaml").read_text())
    cfg["tune"]["in_process_below"] = 10_000
    cfg["store"] = "store-small"
    (project / "small.yaml").write_text(yaml.safe_dump(cfg))
    res = fcast("run", "tuning", "-c", "small.yaml", "--markets", "SE,NO", cwd=project)
    assert res.returncode == 0, res.stderr
    assert (
        "running in-process (no Dask cluster) for 8 tuning fits, below tune.in_process_below (10000)"
        in res.stderr
    )
    assert "cluster:" not in res.stderr


def test_validate_ok(project):
    res = fcast("validate", "run.yaml", cwd=project)
    assert res.returncode == 0 and "2 hps in 2 families" in res.stdout


def test_repo_configs_validate():
    repo = Path(__file__).resolve().parents[1]
    run_configs = [
        p
        for p in sorted((repo / "configs").glob("*.yaml"))
        if "data" in yaml.safe_load(p.read_text())
    ]
    assert run_configs
    for cfg in run_configs:
        res = fcast("validate", str(cfg), cwd=repo)
        assert res.returncode == 0, res.stderr


def test_qa_alone(project, tmp_path):
    res = fcast("qa", "-c", "run.yaml", cwd=project)
    assert res.returncode == 0, res.stderr
    assert "qa.parquet" in res.stdout
    qa_runs = sorted((project / "store" / "runs").glob("qa-*"))
    findings = pd.read_parquet(qa_runs[-1] / "qa.parquet")
    assert set(findings.columns) >= {"market", "check", "severity", "first", "last", "detail"}
    assert not (findings["severity"] == "error").any()
    # a broken copy of the actuals: duplicated rows for SE -> exit 1 with the market named
    df = pd.read_parquet(project / "data" / "actuals.parquet")
    pd.concat([df, df[df["market"] == "SE"].head(3)]).to_parquet(tmp_path / "broken.parquet")
    cfg = yaml.safe_load((project / "run.yaml").read_text())
    cfg["data"]["actuals"] = str(tmp_path / "broken.parquet")
    cfg["store"] = str(tmp_path / "store")
    (project / "broken.yaml").write_text(yaml.safe_dump(cfg))
    res = fcast("qa", "-c", "broken.yaml", cwd=project)
    assert res.returncode == 1 and "duplicates" in res.stdout and "SE" in res.stdout


def test_version_and_quiet(project):
    from fcast import __version__

    res = fcast("--version", cwd=project)
    assert res.returncode == 0 and res.stdout.strip() == f"fcast {__version__}"
    res = fcast("-q", "runs", "-c", "run.yaml", cwd=project)
    assert res.returncode == 0 and res.stderr == ""


def test_runs_and_selections_list_the_store(project):
    if not (project / "store" / "runs").exists():
        assert fcast("run", "tuning", "-c", "run.yaml", cwd=project).returncode == 0
    res = fcast("runs", "-c", "run.yaml", "--kind", "tuning", cwd=project)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["run_id", "kind", "status"]
    assert all(" tuning " in line for line in lines[1:])
    res = fcast("selections", "-c", "run.yaml", cwd=project)
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.strip().splitlines()
    assert header.split()[:3] == ["market", "run_id", "tuned_at"]
    # one row per tuned market, under the 30-row cut (the cut: test_selections_show_ages_...)
    assert len(rows) >= 10 and not any("more rows" in row for row in rows)
    assert "SE" in [row.split()[0] for row in rows]


def test_no_silent_default_config(tmp_path):
    res = fcast("vintages", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: no config given: pass -c CONFIG")
    assert "Traceback" not in res.stderr


def test_publish_latest_and_the_next_step_hint(project):
    if not list((project / "store" / "runs").glob("weekly-*")):
        if not list((project / "store" / "runs").glob("tuning-*")):
            assert fcast("run", "tuning", "-c", "run.yaml", cwd=project).returncode == 0
        assert fcast("run", "weekly", "-c", "run.yaml", cwd=project).returncode == 0
    newest = sorted((project / "store" / "runs").glob("weekly-*"))
    res = fcast("publish", "latest", "-c", "run.yaml", "--official", "cli-latest", cwd=project)
    assert res.returncode == 0, res.stderr
    manifest = json.loads(
        (project / "store" / "official" / "cli-latest" / "vintage.json").read_text()
    )
    complete = [
        p.name
        for p in newest
        if (p / "manifest.json").exists()
        and json.loads((p / "manifest.json").read_text()).get("status") == "complete"
    ]
    assert manifest["run_id"] == complete[-1]
    again = fcast("publish", "latest", "-c", "run.yaml", "--official", "cli-latest", cwd=project)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_space_report_on_a_weekly_run_is_a_clear_error(tmp_path):
    """Issue 17 case 14: space-report on a weekly run id printed a 200-line traceback."""
    run = tmp_path / "store" / "runs" / "weekly-1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"run_id": "weekly-1", "status": "complete"}))
    pd.DataFrame({"market": ["SE"], "yhat": [1.0]}).to_parquet(run / "forecast.parquet")
    out = fcast(
        "space-report",
        "weekly-1",
        "-c",
        "configs/demo.yaml",
        "--store",
        str(tmp_path / "store"),
        cwd=Path(__file__).parents[1],
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: run weekly-1") and "needs a tuning run" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_prints_coverage_pooled_over_market_weeks(tmp_path, capsys):
    from fcast.cli import _print_truth_score
    from tests.data.test_sample import _scored_forecast

    fc, truth = _scored_forecast()  # 80%: A 2 of 4 weeks inside, B 0 of 2
    truth.to_parquet(tmp_path / "truth.parquet")
    _print_truth_score(fc, str(tmp_path / "truth.parquet"))
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("mature")][0]
    # markets, median and mean sMAPE, then pooled coverage: 2 of 6 market-weeks (not the median 0.25)
    assert line.split()[1:] == ["2", "0.0", "0.0", "0.333", "1.0"]


def _run_manifests(store: Path, n: int) -> None:
    """`n` hand-made weekly run manifests, one a day from 2026-11-01, each over 12,345 markets."""
    for k in range(n):
        day = pd.Timestamp("2026-11-01 09:30:07.123456", tz="UTC") + pd.Timedelta(days=k)
        run_id = f"weekly-{day:%Y%m%dT%H%M%S}"
        folder = store / "runs" / run_id
        folder.mkdir(parents=True)
        manifest = {
            "run_id": run_id,
            "kind": "weekly",
            "status": "complete",
            "input_markets": [f"M{i}" for i in range(12_345)],
            "started": day.isoformat(),
            "data_end": "2026-10-26",
        }
        (folder / "manifest.json").write_text(json.dumps(manifest))


def test_runs_prints_human_numbers_and_truncates_to_the_newest(tmp_path):
    from typer.testing import CliRunner

    from fcast.cli import app

    _run_manifests(tmp_path / "store", 33)
    out = CliRunner().invoke(app, ["runs", "--store", str(tmp_path / "store")])
    assert out.exit_code == 0, out.output
    header, *rows, more = out.output.strip().splitlines()
    assert header.split() == ["run_id", "kind", "status", "markets", "scope", "started", "data_end"]
    assert len(rows) == 30 and more == "... 3 more rows (--all shows them)"
    # the newest 30 (the first 3 left out); 12,345 not 12345; minutes, not ISO text
    assert rows[0].split() == [
        "weekly-20261104T093007",
        "weekly",
        "complete",
        "12,345",
        "2026-11-04",
        "09:30",
        "2026-10-26",
    ]
    assert rows[-1].split()[0] == "weekly-20261203T093007"
    every = CliRunner().invoke(app, ["runs", "--store", str(tmp_path / "store"), "--all"])
    assert len(every.output.strip().splitlines()) == 34 and "more rows" not in every.output


def test_selections_show_ages_in_days_and_fixed_decimals(tmp_path):
    from datetime import UTC, datetime, timedelta

    from typer.testing import CliRunner

    from fcast.cli import app

    store = tmp_path / "store"
    (store / "selections").mkdir(parents=True)
    tuned = datetime.now(UTC) - timedelta(days=3, hours=1)
    markets = [f"M{k:02d}" for k in range(32)]
    pd.DataFrame(
        {
            "market": markets,
            "run_id": "tuning-1",
            "tuned_at": tuned,
            "weight": 1.0,
            "label": "ets(AAdN)",
            "cv_score": [0.123456 + k for k in range(32)],
            "fingerprint": "abc",
        }
    ).to_parquet(store / "selections" / "current.parquet")
    pd.DataFrame({"market": ["SE"], "date": ["2024-01-01"], "users": [1.0]}).to_csv(
        tmp_path / "a.csv", index=False
    )
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump({"data": {"actuals": "a.csv", "freq": "W-MON"}, "store": "store"})
    )
    cli = CliRunner()
    out = cli.invoke(app, ["selections", "-c", str(tmp_path / "run.yaml")])
    assert out.exit_code == 0, out.output
    header, *rows, more = out.output.strip().splitlines()
    assert header.split() == [
        "market",
        "run_id",
        "tuned_at",
        "age",
        "model",
        "cv_score",
        "fingerprint",
    ]
    assert rows[0].split()[4:] == ["3", "d", "ets(AAdN)", "0.123", "abc"]
    assert len(rows) == 30 and more == "... 2 more rows (--all shows them)"
    every = cli.invoke(app, ["selections", "-c", str(tmp_path / "run.yaml"), "--all"])
    assert "M31 " in every.output and "31.123" in every.output and "more rows" not in every.output


def test_vintages_list_is_truncated_with_all_and_shows_minutes(tmp_path):
    from typer.testing import CliRunner

    from fcast.cli import app
    from fcast.infra.store import Store
    from fcast.infra.vintage import publish_vintage
    from tests.infra.test_vintage import make_run

    store = Store(str(tmp_path / "store"))
    for k in range(32):
        make_run(store, f"weekly-{k:02d}")
        publish_vintage(store, f"weekly-{k:02d}", f"v{k:03d}")
    cli = CliRunner()
    out = cli.invoke(app, ["vintages", "--store", store.url])
    assert out.exit_code == 0, out.output
    header, *rows, more = out.output.strip().splitlines()
    assert header.split()[:4] == ["name", "published", "run_id", "markets"]
    assert len(rows) == 30 and more == "... 2 more rows (--all shows them)"
    assert rows[0].split()[0] == "v002" and rows[-1].split()[0] == "v031"  # the newest 30
    published = rows[0].split()[1:3]
    assert len(published[0]) == 10 and len(published[1]) == 5  # 2026-12-01 15:01, not ISO text
    every = cli.invoke(app, ["vintages", "--store", store.url, "--all"])
    assert "v000 " in every.output and "more rows" not in every.output


#: every command that prints a table of rows (one row per run, market, vintage, finding, ...)
TABLE_COMMANDS = [
    ["runs"],
    ["selections"],
    ["vintages"],
    ["space-report"],
    ["qa"],
    ["adjust", "list"],
    ["adjust", "preview"],
]


@pytest.mark.parametrize("command", TABLE_COMMANDS, ids=" ".join)
def test_every_table_command_has_all(command):
    from typer.testing import CliRunner

    from fcast.cli import app

    out = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert out.exit_code == 0 and "--all" in out.output, out.output

"""Adjustment files: reading a file or folder, adding and removing with atomic writes, a run's set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fcast.errors import ConfigError
from fcast.jobs.adjust import (
    add_adjustment,
    adjustment_files,
    load_adjustments,
    remove_adjustment,
    run_adjustments,
)
from fcast.markets.adjustments import horizon_dates, validate_adjustments
from tests.markets.test_adjustments import CREATED, DATES, adj

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"kind": "percent"},
            "adjustments.0.kind: Input should be 'multiplicative', 'additive', 'level_shift' or 'ramp'",
        ),
        ({"end": "2026-11-01"}, "adjustments.0.end: end 2026-11-01 is before start 2026-11-30"),
        ({"value": 0.0}, "adjustments.0.value: a multiplicative value is a factor in (0, 100]"),
        ({"reason": "  "}, "adjustments.0.reason: String should have at least 1 character"),
        ({"owner": "x"}, "adjustments.0.owner: unknown key"),
        ({"id": "has space"}, "adjustments.0.id: invalid adjustment id"),
    ],
)
def test_invalid_entries_name_the_file_and_the_key(tmp_path, changes, message):
    entry = {
        "id": "x",
        "market": "SE",
        "start": "2026-11-30",
        "end": "2026-12-07",
        "kind": "multiplicative",
        "value": 1.1,
        "reason": "r",
        "author": "a",
        "created": "2026-11-20T09:30:00Z",
        **changes,
    }
    path = tmp_path / "bad.yaml"
    path.write_text(__import__("yaml").safe_dump({"adjustments": [entry]}))
    with pytest.raises(ConfigError) as info:
        load_adjustments(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_file_layout_errors_are_clear(tmp_path):
    (tmp_path / "a.yaml").write_text("- market: SE\n")
    with pytest.raises(ConfigError, match="expected a mapping with the single key 'adjustments'"):
        load_adjustments(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="adjustments not found"):
        load_adjustments(tmp_path / "missing")
    assert load_adjustments(None) == []


def test_from_to_aliases_and_plain_dates(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(
        "adjustments:\n  - {id: a, market: SE, from: 2026-11-30, to: 2026-12-07, kind: additive, value: 5,\n"
        "     reason: r, author: me, created: 2026-11-20}\n"
    )
    (a,) = load_adjustments(path)
    assert (str(a.start), str(a.end), a.created) == (
        "2026-11-30",
        "2026-12-07",
        datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert a.source == str(path)


def test_add_list_remove_in_a_folder(tmp_path):
    folder = tmp_path / "adjustments"
    folder.mkdir()
    a = adj("multiplicative", 1.15, id="SE-campaign")
    path = add_adjustment(folder, a, ["SE", "NO"], DATES)
    assert path == folder / "SE-campaign.yaml"
    (back,) = load_adjustments(folder)
    assert (
        back.model_dump() == a.model_dump() and back.author == "tester" and back.created == CREATED
    )
    b = adj("additive", 3, market="NO", id="NO-fix")
    add_adjustment(folder, b)
    assert [x.id for x in load_adjustments(folder)] == ["NO-fix", "SE-campaign"]
    with pytest.raises(ConfigError, match="already exists"):
        add_adjustment(folder, b)
    with pytest.raises(ConfigError, match="SE-campaign .* and SE-shift .* conflict"):
        add_adjustment(folder, adj("level_shift", 10, id="SE-shift"))
    assert remove_adjustment(folder, "SE-campaign").model_dump() == a.model_dump()
    assert not path.exists()
    assert [x.id for x in load_adjustments(folder)] == ["NO-fix"]
    with pytest.raises(ConfigError, match=r"no adjustment 'nope' .* \(known: NO-fix\)"):
        remove_adjustment(folder, "nope")


def test_add_validates_market_and_horizon_before_writing(tmp_path):
    with pytest.raises(ConfigError, match="unknown market"):
        add_adjustment(tmp_path, adj("additive", 1, market="XX"), ["SE"], DATES)
    assert list(tmp_path.iterdir()) == []


def test_add_and_remove_in_a_single_file(tmp_path):
    path = tmp_path / "all.yaml"
    add_adjustment(path, adj("additive", 1, id="one"))
    add_adjustment(path, adj("additive", 2, market="NO", id="two"))
    assert [a.id for a in load_adjustments(path)] == ["one", "two"]
    remove_adjustment(path, "one")
    assert [a.id for a in load_adjustments(path)] == ["two"]
    remove_adjustment(path, "two")
    assert path.exists() and load_adjustments(path) == []


def test_sample_campaign_adjustment_is_valid_for_the_sample_horizon():
    adjs = load_adjustments(ROOT / "configs" / "adjustments")
    dates = horizon_dates("2026-11-16", 52, "W-MON")
    validate_adjustments(adjs, ["SE", "NO", "DK"], dates)
    (campaign,) = [a for a in adjs if a.market == "SE"]
    assert (campaign.kind, campaign.value) == ("multiplicative", 1.15)
    assert campaign.covers(dates).sum() == 6 and campaign.reason and campaign.author


def test_run_adjustments_validates_a_folder_for_a_run(tmp_path):
    add_adjustment(tmp_path, adj("additive", 1, "2026-10-05", "2026-10-26", id="old"))
    add_adjustment(tmp_path, adj("multiplicative", 1.2, id="now"))
    assert [a.id for a in run_adjustments(tmp_path, ["SE"], DATES)] == ["now", "old"]
    with pytest.raises(ConfigError, match="unknown market 'SE'"):
        run_adjustments(tmp_path, ["NO"], DATES)
    assert run_adjustments(None, ["SE"], DATES) == []


def test_market_no_in_a_file_gets_the_quote_hint(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(
        "adjustments:\n  - {id: a, market: NO, from: 2026-11-30, to: 2026-12-07, kind: additive, value: 5,\n"
        "     reason: r, author: me, created: 2026-11-20}\n"
    )
    with pytest.raises(ConfigError, match=r"a\.yaml:\n  adjustments\.0\.market: .*quote codes"):
        load_adjustments(path)


def test_writes_leave_no_file_aside_and_aside_files_are_ignored(tmp_path):
    add_adjustment(tmp_path, adj("additive", 1, id="one"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.yaml"]
    (tmp_path / ".tmp-0123456789ab-two.yaml").write_text("adjustments: [oops")  # a crashed write
    assert [p.name for p in adjustment_files(tmp_path)] == ["one.yaml"]
    assert [a.id for a in load_adjustments(tmp_path)] == ["one"]


# --- the command line -------------------------------------------------------------------------


def run_folder(tmp_path: Path) -> Path:
    """A run config whose store holds one complete weekly run with a forecast of SE and NO."""
    import numpy as np
    import pandas as pd
    import yaml

    from fcast.infra.store import Store
    from tests.markets.test_adjustments import forecast

    store = Store(str(tmp_path / "store"))
    store.write_parquet(forecast(), "runs", "weekly-1", "forecast.parquet")
    store.write_json(
        {"run_id": "weekly-1", "status": "complete"}, "runs", "weekly-1", "manifest.json"
    )
    history = pd.date_range(end=DATES[0] - pd.Timedelta(weeks=1), periods=60, freq="W-MON")
    pd.concat(
        [
            pd.DataFrame({"market": m, "date": history, "users": 100 + np.arange(60.0)})
            for m in ("SE", "NO")
        ]
    ).to_csv(tmp_path / "actuals.csv", index=False)
    config = {
        "data": {"actuals": "actuals.csv", "value": "users", "freq": "W-MON"},
        "horizon": 4,
        "space": "small",
        "store": "store",
        "adjustments": "adjustments",
    }
    (tmp_path / "adjustments").mkdir()
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "run.yaml"


def test_cli_adjust_add_list_preview_remove(tmp_path):
    from typer.testing import CliRunner

    from fcast.cli import app

    cfg, cli = str(run_folder(tmp_path)), CliRunner()
    period = ["--market", "SE", "--from", "2026-11-30", "--to", "2026-12-07"]
    shown = cli.invoke(
        app, ["adjust", "preview", "-c", cfg, *period, "--kind", "multiplicative", "--value", "1.5"]
    )
    assert shown.exit_code == 0, shown.output
    assert "SE-20261130-multiplicative" in shown.output and "+50.0%" in shown.output
    add = [*period, "--kind", "additive", "--value", "5", "--reason", "r", "--author", "me"]
    saved = cli.invoke(app, ["adjust", "add", "-c", cfg, *add])
    assert saved.exit_code == 0 and "saved adjustment SE-20261130-additive" in saved.output
    listed = cli.invoke(app, ["adjust", "list", "-c", cfg])
    assert listed.exit_code == 0 and "SE-20261130-additive" in listed.output
    every = cli.invoke(app, ["adjust", "list", "-c", cfg, "--all"])
    assert every.exit_code == 0 and every.output == listed.output  # one row: nothing left out
    bad = cli.invoke(app, ["adjust", "add", "-c", cfg, *add[:1], "XX", *add[2:]])
    assert bad.exit_code != 0 and "unknown market 'XX'" in bad.output
    assert cli.invoke(app, ["validate", cfg]).exit_code == 0
    removed = cli.invoke(app, ["adjust", "remove", "-c", cfg, "SE-20261130-additive"])
    assert removed.exit_code == 0 and list((tmp_path / "adjustments").iterdir()) == []


def test_adjustments_are_checked_against_the_latest_run_that_is_not_an_as_of_replay(tmp_path):
    """Case 15: an --as-of replay was taken as the latest forecast: a valid future adjustment was
    refused as outside the horizon and a past one accepted (and applied by no run)."""
    import pandas as pd
    import pytest

    from fcast.errors import StoreError
    from fcast.infra.store import Store
    from fcast.jobs.adjust import latest_forecast
    from tests.markets.test_adjustments import forecast

    store = Store(str(tmp_path / "store"))
    current = forecast()
    replay = current.assign(date=pd.to_datetime(current["date"]) - pd.Timedelta(weeks=52))
    for run_id, table, as_of in (
        ("weekly-1", current, None),
        ("weekly-2", replay, "2023-01-02"),
    ):
        store.write_parquet(table, "runs", run_id, "forecast.parquet")
        store.write_json(
            {"run_id": run_id, "status": "complete", "as_of": as_of},
            "runs",
            run_id,
            "manifest.json",
        )
    run_id, table = latest_forecast(store)
    assert run_id == "weekly-1"
    assert table["date"].min() == pd.to_datetime(current["date"]).min()

    only_replays = Store(str(tmp_path / "replays"))
    only_replays.write_parquet(replay, "runs", "weekly-2", "forecast.parquet")
    only_replays.write_json(
        {"run_id": "weekly-2", "status": "complete", "as_of": "2023-01-02"},
        "runs",
        "weekly-2",
        "manifest.json",
    )
    with pytest.raises(StoreError, match="only --as-of replays.*weekly-2"):
        latest_forecast(only_replays)

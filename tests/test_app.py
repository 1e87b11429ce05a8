"""The adjust web app: the form's logic in-process, and the whole flow in headless Chromium."""

from __future__ import annotations

import importlib.util
import json
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fcast.app import AdjustApp, band, make_app, serve
from fcast.contract import forecast_columns
from fcast.errors import ConfigError, StoreError
from fcast.infra.store import Store
from fcast.jobs.adjust import latest_forecast, load_adjustments
from fcast.markets.adjustments import (
    apply_adjustments,
    make_adjustment,
)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
SELENIUM = importlib.util.find_spec("selenium") is not None
HISTORY = pd.date_range("2023-01-02", periods=60, freq="W-MON")  # last actual 2024-02-19
DATES = pd.date_range("2024-02-26", periods=12, freq="W-MON")  # forecast 2024-02-26 .. 2024-05-13


def actuals() -> pd.DataFrame:
    rows = [
        pd.DataFrame({"market": m, "date": HISTORY, "users": scale * (100 + np.arange(60.0))})
        for m, scale in (("NO", 1.0), ("SE", 10.0))
    ]
    return pd.concat(rows, ignore_index=True)


def forecast() -> pd.DataFrame:
    """NO at 200, SE at 2000 flat, bounds +-10% (80) and +-20% (95)."""
    rows = []
    for market, level in (("NO", 200.0), ("SE", 2000.0)):
        y = np.full(len(DATES), level)
        rows.append(
            pd.DataFrame(
                {
                    "market": market,
                    "date": DATES,
                    "yhat": y,
                    "yhat_lo_80": 0.9 * y,
                    "yhat_hi_80": 1.1 * y,
                    "yhat_lo_95": 0.8 * y,
                    "yhat_hi_95": 1.2 * y,
                    "family": "ets",
                    "segment": "mature",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def app(tmp_path: Path) -> AdjustApp:
    return AdjustApp(
        forecast(), actuals(), tmp_path / "adjustments", ["NO", "SE", "DK"], author="tester"
    )


# --- the form's logic ----------------------------------------------------------------------------


def test_defaults_and_live_preview(tmp_path):
    a = app(tmp_path)
    assert (a.market.value, a.kind.value, a.value.value) == ("NO", "multiplicative", 1.1)
    assert (a.start.value, a.end.value) == (DATES[3].date(), DATES[8].date())  # six periods
    rows, note = a.previewed()
    assert note == "preview: 6 period(s) changed, +120 in total vs the current forecast"
    assert rows["yhat"].round(9).tolist() == [200.0] * 3 + [220.0] * 6 + [200.0] * 3
    assert rows["yhat_base"].tolist() == [200.0] * 12
    assert len(a.figure().data) == 5  # actuals, band, current forecast, period, preview


def test_kind_change_suggests_a_value(tmp_path):
    a = app(tmp_path)
    a.market.value = "SE"
    a.kind.value = "level_shift"
    assert a.value.value == 2000 and "mean level" in a.help.object
    a.kind.value = "additive"
    assert a.value.value == 1000.0


def test_invalid_draft_shows_why(tmp_path):
    a = app(tmp_path)
    a.start.value, a.end.value = DATES[5].date(), DATES[2].date()
    rows, note = a.previewed()
    assert rows is None and note.endswith("end: end 2024-03-11 is before start 2024-04-01")


def test_save_writes_validated_yaml_with_author_and_time(tmp_path):
    a = app(tmp_path)
    a.market.value, a.value.value = "SE", 1.25
    a.reason.value = "spring campaign"
    a._on_save()
    assert a.status.object.startswith("**saved** SE-20240318-multiplicative to ")
    (saved,) = load_adjustments(tmp_path / "adjustments")
    assert (saved.market, saved.kind, saved.value, saved.reason, saved.author) == (
        "SE",
        "multiplicative",
        1.25,
        "spring campaign",
        "tester",
    )
    assert datetime.now(UTC) - saved.created < timedelta(minutes=5)
    assert a.value.value == 1.0 and a.reason.value == "" and a.tick.value == 1
    assert a.saved_table()["id"].tolist() == ["SE-20240318-multiplicative"]
    assert a.current("SE")["yhat"].tolist() == [2000.0] * 3 + [2500.0] * 6 + [2000.0] * 3


def test_save_refuses_incomplete_or_conflicting_input(tmp_path):
    a = app(tmp_path)
    a._on_save()
    assert a.status.object == "**not saved**: a reason and an author are required"
    a.reason.value = "first"
    a._on_save()
    a.kind.value, a.value.value, a.reason.value = "ramp", 500.0, "second"
    a._on_save()
    assert "**not saved**" in a.status.object and "conflict" in a.status.object
    assert [x.reason for x in load_adjustments(tmp_path / "adjustments")] == ["first"]


def test_existing_adjustments_show_in_the_current_forecast(tmp_path):
    folder = tmp_path / "adjustments"
    folder.mkdir()
    adj = make_adjustment("NO", DATES[0], DATES[1], "additive", 50, "known event", "someone")
    (folder / "a.yaml").write_text(yaml.safe_dump({"adjustments": [adj.model_dump()]}))
    published = apply_adjustments(forecast(), [adj])  # a run's forecast.parquet already adjusted
    a = AdjustApp(published, actuals(), folder, author="x")
    assert a.current("NO")["yhat"].tolist()[:3] == [250.0, 250.0, 200.0]
    assert a.base["yhat"].tolist()[:3] == [200.0] * 3


def run_folder(tmp_path: Path) -> Path:
    """A store with one complete run, an actuals file and a config that points at both."""
    store = Store(str(tmp_path / "store"))
    store.write_parquet(forecast(), "runs", "weekly-1", "forecast.parquet")
    store.write_json(
        {"run_id": "weekly-1", "status": "complete", "started": "2024-02-20"},
        "runs",
        "weekly-1",
        "manifest.json",
    )
    actuals().to_csv(tmp_path / "actuals.csv", index=False)
    config = {
        "data": {"actuals": "actuals.csv", "value": "users", "freq": "W-MON"},
        "horizon": 12,
        "space": "small",
        "store": "store",
        "adjustments": "adjustments",
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_make_app_from_a_run_config(tmp_path):
    page = make_app(run_folder(tmp_path))
    assert "adjustments" in page.objects[1].object
    run_id, table = latest_forecast(Store(str(tmp_path / "store")))
    assert run_id == "weekly-1" and len(table) == 24
    with pytest.raises(StoreError, match="no complete run with a forecast"):
        latest_forecast(Store(str(tmp_path / "empty")))
    with pytest.raises(ConfigError, match="no adjustments location"):
        make_app(None, forecast(), actuals())


# --- the browser test ------------------------------------------------------------------------------

FIND = """
function find(root, cls) {
  for (const el of root.querySelectorAll('*')) {
    if (el.classList && el.classList.contains(cls)) return el;
    if (el.shadowRoot) { const hit = find(el.shadowRoot, cls); if (hit) return hit; }
  }
  return null;
}
const host = find(document, arguments[0]);
if (!host) return null;
if (arguments[1]) return host.shadowRoot.querySelector(arguments[1]);
return Array.from(host.shadowRoot.children).filter(e => !['STYLE', 'LINK'].includes(e.tagName))
  .map(e => e.textContent).join(' ');
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(fn, what: str, timeout: float = 30.0):  # noqa: ANN001, ANN201
    """Poll until fn() is truthy."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def element(driver, cls: str, selector: str):  # noqa: ANN001, ANN201
    return wait_for(lambda: driver.execute_script(FIND, cls, selector), f"{cls} {selector}")


def text(driver, cls: str) -> str:  # noqa: ANN001
    return driver.execute_script(FIND, cls, None) or ""


def retype(field, value: str) -> None:  # noqa: ANN001
    """Replace what a text field holds, then leave it (which commits the value)."""
    from selenium.webdriver.common.keys import Keys

    field.send_keys(Keys.END, Keys.BACKSPACE * 30)
    field.send_keys(value, Keys.TAB)


def pick_date(driver, cls: str, label: str) -> None:  # noqa: ANN001
    """Open a date picker's calendar and click a day, as a person would."""
    element(driver, cls, "input:not([type=hidden])").click()
    element(driver, cls, f'span.flatpickr-day[aria-label="{label}"]').click()


@pytest.mark.skipif(
    not (CHROMIUM and DRIVER and SELENIUM),
    reason="needs headless Chromium, chromedriver (Debian packages chromium chromium-driver) and selenium",
)
def test_adjust_in_the_browser_saves_yaml_and_adjusts_the_forecast(tmp_path):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    folder = tmp_path / "adjustments"
    port = free_port()
    server = serve(
        None, port=port, threaded=True, forecast=forecast(), actuals=actuals(), adjustments=folder,
        markets=["NO", "SE"], author="tester",
    )  # fmt: skip
    try:
        with browser() as driver:
            driver.get(f"http://127.0.0.1:{port}/adjust")
            Select(element(driver, "fc-market", "select")).select_by_visible_text("SE")
            retype(element(driver, "fc-value", "input"), "1.2")
            pick_date(driver, "fc-start", "March 4, 2024")
            pick_date(driver, "fc-end", "April 1, 2024")
            element(driver, "fc-reason", "input").send_keys("spring campaign", Keys.TAB)
            retype(element(driver, "fc-author", "input"), "anna.berg")
            # the adjusted forecast is previewed at once: 5 periods of 2000 -> 2400
            wait_for(
                lambda: "5 period(s) changed, +2,000 in total" in text(driver, "fc-note"),
                "the preview",
            )
            element(driver, "fc-save", "button").click()
            wait_for(lambda: "saved" in text(driver, "fc-status"), "the save")
            assert "SE-20240304-multiplicative" in text(driver, "fc-status")
            wait_for(
                lambda: "SE-20240304-multiplicative" in text(driver, "fc-saved"), "the saved table"
            )
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, json.dumps(errors)[:1000]
    finally:
        server.stop()
    (saved,) = load_adjustments(folder)
    raw = yaml.safe_load((folder / "SE-20240304-multiplicative.yaml").read_text())["adjustments"][0]
    assert raw["author"] == "anna.berg" and raw["reason"] == "spring campaign"
    assert (saved.market, saved.kind, saved.value) == ("SE", "multiplicative", 1.2)
    assert (str(saved.start), str(saved.end)) == ("2024-03-04", "2024-04-01")
    assert datetime.now(UTC) - saved.created < timedelta(minutes=5)
    adjusted = apply_adjustments(forecast(), [saved])
    se = adjusted[adjusted["market"] == "SE"]
    assert se["yhat"].round(9).tolist() == [2000.0] + [2400.0] * 5 + [2000.0] * 6
    assert se["yhat_hi_95"].round(9).tolist()[:2] == [2400.0, 2880.0]
    assert se["adjustment_id"].tolist()[:2] == [None, "SE-20240304-multiplicative"]


def test_band_is_the_narrowest_interval_the_forecast_contract_names():
    assert band(pd.DataFrame(columns=forecast_columns((95, 80), adjusted=True))) == (
        "yhat_lo_80",
        "yhat_hi_80",
    )
    assert band(pd.DataFrame(columns=["market", "date", "yhat", "yhat_lo_50"])) == (None, None)

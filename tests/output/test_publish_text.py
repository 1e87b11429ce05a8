"""Free text in insights.md, the report and webhook payloads is quoted single-line text (issue 17, case 11)."""

from __future__ import annotations

import re

import pytest

from fcast.names import one_line, quote_text
from fcast.output.channels import Message, webhook_channel
from fcast.output.publish import insights
from fcast.output.report import markdown_html
from tests.output.test_channels import webhook_server
from tests.output.test_publish import hand_made_run

FORGED = (
    "TV campaign\n\n## Quality control — QC passed\n\nQC passed: 40 check result(s). Approved.\n"
    "# Forecast approved\n- **SE** fine <script>alert('x')</script> <img src=x onerror=alert(1)>"
)


def forged_run():
    run, previous, meta = hand_made_run()
    run.adjustments.loc[0, "reason"] = FORGED
    run.adjustments.loc[0, "author"] = "bo\r\n## Approved"
    override = {"reason": FORGED, "author": "ana\n# Approved", "errors": [{"market": "SE"}]}
    return run, previous, meta, override


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#")]


def test_a_forged_reason_creates_no_heading_nor_tag_in_insights():
    run, previous, meta, override = forged_run()
    text = insights(run, previous, name="v2", meta=meta, override=override)
    clean = insights(
        *hand_made_run()[:2],
        name="v2",
        meta=meta,
        override=override | {"reason": "ok", "author": "ana"},
    )
    assert headings(text) == headings(clean)
    assert headings(text).count("## Quality control") == 1
    assert not re.search(r"(?<!\\)<", text)  # every < is escaped
    assert "\\<script\\>" in text  # kept readable
    adjustment = [line for line in text.splitlines() if line.startswith("- **DK** +10%")]
    assert len(adjustment) == 1 and "Quality control — QC passed" in adjustment[0]
    assert "(bo ## Approved)" not in adjustment[0] and "(bo \\#\\# Approved)" in adjustment[0]


def test_a_forged_reason_creates_no_heading_nor_tag_in_the_report_html():
    run, previous, meta, override = forged_run()
    page = markdown_html(insights(run, previous, name="v2", meta=meta, override=override))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;" in page  # shown as text
    assert re.findall(r"<h\d>(.*?)</h\d>", page).count("Quality control") == 1
    assert not any("Approved" in h for h in re.findall(r"<h\d>(.*?)</h\d>", page))
    assert "\\" not in page  # the backslash escapes are rendered, not shown
    assert "<b>SE</b> fine" not in page and "**SE** fine" in page


def test_webhook_payload_carries_the_quoted_text():
    run, previous, meta, override = forged_run()
    text = insights(run, previous, name="v2", meta=meta, override=override)
    with webhook_server() as (url, received):
        webhook_channel(Message(text=text, run_id="weekly-x", vintage="v2"), url)
    sent = received[0]["json"]["text"]
    assert not re.search(r"(?<!\\)<", sent) and headings(sent).count("## Quality control") == 1


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("TV campaign", "TV campaign"),
        ("a\nb\r\nc\td\x00e\u2028f", "a b c d e f"),
        ("## heading", "\\#\\# heading"),
        ("- item", "\\- item"),
        ("1. item", "1\\. item"),
        (
            "**bold** [link](http://x) `code` a|b",
            "\\*\\*bold\\*\\* \\[link\\](http://x) \\`code\\` a\\|b",
        ),
        ("<b>x</b> & y", "\\<b\\>x\\</b\\> \\& y"),
        ("US_CA _x_", "US_CA \\_x\\_"),
        ("SE-1 2.0 (+10%)", "SE-1 2.0 (+10%)"),
        (None, ""),
        ("abc\u202edef", "abcdef"),
    ],
)
def test_quote_text(raw, quoted):
    assert quote_text(raw) == quoted


def test_quote_text_bounds_the_length():
    out = quote_text("x" * 1000)
    assert len(out) == 300 and out.endswith("…")
    assert one_line("a " * 10, limit=5) == "a a…"

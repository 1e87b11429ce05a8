"""Redaction (issue 17 item 12): no credential, or piece of one, in messages, logs or manifests."""

from __future__ import annotations

import json

import pytest

from fcast.errors import ConfigError
from fcast.infra.warehouse import SqlActuals, SqlSource, actuals_label, engine, redacted, scrub
from fcast.redact import MASK, redact, redact_tree, secrets_in

PASSWORD = "p@ss:w0rd"  # unescaped '@' and ':' in the password
FRAGMENTS = ("p@ss", "ss:w0rd", "w0rd", "ss:w0rd@")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://fcast:s3cr%40t@db:5432/dw", "postgresql://fcast:***@db:5432/dw"),
        ("postgresql://fcast@db/dw", "postgresql://fcast@db/dw"),
        (
            "postgresql://u@db/dw?sslmode=require&sslpassword=hunter22&application_name=fc",
            "postgresql://u@db/dw?sslmode=require&sslpassword=***&application_name=fc",
        ),
        (
            f"postgresql://fcast:{PASSWORD}@db.example:5432/dw",
            "postgresql://fcast:***@db.example:5432/dw",
        ),
        ("postgresql://u:pa/ss@db/dw", "postgresql://u:***@db/dw"),
        (
            "https://api.example/v1?access_token=abc&ClientSecret=def&apikey=ghi&x=1",
            "https://api.example/v1?access_token=***&ClientSecret=***&apikey=***&x=1",
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA1&X-Amz-Signature=abc",
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***",
        ),
        ("host=db user=u password='se cret' dbname=dw", "host=db user=u password=*** dbname=dw"),
        ("https://host/a@b/c", "https://host/a@b/c"),  # an '@' in the path is no userinfo
        (
            "postgresql://${U}:${PW}@h/dw?password=${P2}",
            "postgresql://${U}:${PW}@h/dw?password=${P2}",
        ),
    ],
)
def test_redact_masks_every_credential_part_of_a_url(url, expected):
    assert redact(url) == expected


def test_an_unescaped_password_leaves_no_fragment():
    url = f"postgresql://fcast:{PASSWORD}@db.example:5432/dw"
    text = f"could not connect to {url!r}; server at 'ss:w0rd@db.example' said no"
    out = redact(text, secrets=secrets_in(url))
    assert not any(f in out for f in FRAGMENTS), out
    assert "db.example" in out and MASK in out
    assert secrets_in(url) == [PASSWORD]


def test_webhook_urls_are_reduced_to_scheme_and_host():
    hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"
    assert redact(hook, host_only=True) == "https://hooks.slack.com"
    assert (
        redact(f"webhook {hook} answered HTTP 500", host_only=True)
        == "webhook https://hooks.slack.com answered HTTP 500"
    )
    assert (
        redact("https://u:pw@h.example:8443/x?token=t", host_only=True) == "https://h.example:8443"
    )


def test_redact_tree_masks_manifests():
    tree = {
        "data": {"actuals": "https://h/a.csv?token=abc", "sslpassword": "hunter22"},
        "store": "s3://AKIA:wJalr@bucket/store",
        "channels": [{"webhook": {"url": "https://h/x", "api_key": "k1"}}],
        "author": "ana",
        "env": "${TOKEN}",
        "n": 3,
    }
    out = json.dumps(redact_tree(tree))
    for secret in ("abc", "hunter22", "wJalr", "k1"):
        assert secret not in out
    assert '"author": "ana"' in out and '"n": 3' in out and "${TOKEN}" in out


# --- the warehouse uses it --------------------------------------------------------------


def test_warehouse_redacted_masks_ssl_password():
    # old code matched only password=, passwd=, pwd=, secret=, token=, api_key=
    url = "postgresql://u@db/dw?sslpassword=hunter22&sslkey=/k/client.key"
    assert "hunter22" not in redacted(url)
    dump = json.dumps(
        SqlActuals.model_validate({"sql": {"url": url, "table": "t"}}).model_dump(mode="json")
    )
    assert "hunter22" not in dump


def test_actuals_file_url_label_is_redacted():
    assert actuals_label("https://files.example/actuals.csv?token=abc") == (
        "https://files.example/actuals.csv?token=***"
    )


def test_engine_with_an_unescaped_password_is_a_clear_error_without_fragments():
    pytest.importorskip("sqlalchemy")
    source = SqlSource(url=f"postgresql://fcast:{PASSWORD}@db.example:5432/dw", table="t")
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL") as err, engine(source):
        pass
    assert not any(f in str(err.value) for f in FRAGMENTS), str(err.value)
    assert not any(
        f in scrub(f"bad port 'w0rd@db.example:5432' in {PASSWORD}", source) for f in FRAGMENTS
    )

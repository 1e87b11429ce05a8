"""Publish channels: where a published forecast's insights and report go.

A channel is a function `fn(message, **options) -> str` that delivers a `Message` and says
where it went. Built in: `store` copies insights.md and the report to a folder (any fsspec
URL), keeping `<dest>/<vintage>/` and refreshing `<dest>/latest/`; `webhook` posts the
insights as JSON (`{"text": ..., "run_id": ..., "vintage": ...}`, which Slack, Teams,
Mattermost and most chat tools accept). Every other channel, the `sql` channel of
`fcast.infra.warehouse` included, comes from the `fcast.channels` entry-point group (see
pyproject.toml) or from `register_channel`: this module imports nothing of the store or the
warehouse.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fsspec

from fcast.errors import FcastError
from fcast.redact import redact
from fcast.registry import Registry, RegistryError

#: the entry-point group channels are installed under
ENTRY_POINT_GROUP = "fcast.channels"


class ChannelError(FcastError):
    """A channel that is unknown, misconfigured or failed to deliver."""


@dataclass
class Message:
    """What a channel delivers: the insights text and the published files (relative name -> URL)."""

    text: str
    run_id: str
    vintage: str | None = None
    files: dict[str, str] = field(default_factory=dict)


Channel = Callable[..., str]
CHANNELS: Registry[Channel] = Registry("channel", ENTRY_POINT_GROUP)


def register_channel(name: str, fn: Channel, *, replace: bool = False) -> Channel:
    """Add a channel to the registry (an existing name needs replace=True)."""
    try:
        return CHANNELS.register(name, fn, replace=replace)
    except RegistryError as exc:
        raise ChannelError(str(exc)) from None


def get_channel(name: str) -> Channel:
    """A registered channel, loading the `fcast.channels` entry point of that name on first miss."""
    try:
        return CHANNELS.get(name)
    except RegistryError as exc:
        raise ChannelError(str(exc)) from None


def store_channel(message: Message, dest: str) -> str:
    """Copy the message's files to `<dest>/<vintage>/` and `<dest>/latest/`; return the latest URL."""
    fs, root = fsspec.core.url_to_fs(dest.rstrip("/"))
    folders = [message.vintage or message.run_id, "latest"]
    if fs.exists(f"{root}/latest"):
        fs.rm(f"{root}/latest", recursive=True)
    for rel, url in message.files.items():
        with fsspec.open(url, "rb") as fh:
            data = fh.read()
        for folder in folders:
            target = f"{root}/{folder}/{rel}"
            fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            fs.pipe_file(target, data)
    about = {"run_id": message.run_id, "vintage": message.vintage, "files": sorted(message.files)}
    fs.pipe_file(f"{root}/latest/published.json", json.dumps(about, indent=2).encode())
    return f"{dest.rstrip('/')}/latest/"


def webhook_channel(
    message: Message, url: str, timeout: float = 10.0, max_chars: int = 30000
) -> str:
    """POST the insights as JSON to a webhook URL; a clear error on failure or a non-2xx reply."""
    tail = "\n\n(truncated)"
    text = (
        message.text
        if len(message.text) <= max_chars
        else message.text[: max_chars - len(tail)] + tail
    )
    body = json.dumps({"text": text, "run_id": message.run_id, "vintage": message.vintage}).encode()
    shown = redact(url, host_only=True)  # a webhook URL is its token: never print it whole
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status = reply.status
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode(errors="replace")
        raise ChannelError(
            f"webhook {shown} answered HTTP {exc.code} {exc.reason}: {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ChannelError(
            f"webhook {shown} could not be reached: {getattr(exc, 'reason', exc)}"
        ) from None
    if not 200 <= status < 300:
        raise ChannelError(f"webhook {shown} answered HTTP {status}")
    return f"posted to {shown} (HTTP {status})"


register_channel("store", store_channel)
register_channel("webhook", webhook_channel)


def resolve(
    channels: tuple[str, ...] | list[str],
    webhook_url: str | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    default_dest: str | None = None,
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Channel names and their options, checked before anything is published."""
    names = list(dict.fromkeys(channels))
    if webhook_url and "webhook" not in names:
        names.append("webhook")
    opts = {k: dict(v) for k, v in (options or {}).items()}
    if webhook_url:
        opts.setdefault("webhook", {})["url"] = webhook_url
    if "store" in names and default_dest:
        opts.setdefault("store", {}).setdefault("dest", default_dest)
    for name in names:
        get_channel(name)
    if "webhook" in names and not opts.get("webhook", {}).get("url"):
        raise ChannelError("channel 'webhook' needs a URL (--webhook URL)")
    return names, opts


def send(
    names: list[str], message: Message, options: dict[str, dict[str, Any]] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Deliver a message through every named channel; (delivered name -> where, failed name -> why)."""
    sent, failed = {}, {}
    for name in names:
        try:
            sent[name] = get_channel(name)(message, **(options or {}).get(name, {}))
        except Exception as exc:  # one failing channel must not stop the others
            failed[name] = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, ChannelError) else str(exc)
            )
    return sent, failed

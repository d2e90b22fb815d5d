"""Webhook URLs: which ones are accepted, and how one is shown without its secret.

A Slack, Discord, Mattermost or Google Chat webhook URL *is* a credential:
whoever has it can post to the channel, and the secret sits in the path or the
query (``/services/T…/B…/XXXX``, ``?key=…&token=…``). So a URL is only ever
shown as its scheme and host (``https://hooks.slack.com/***``): in errors,
results, traces, logs and ``broadcastio config``. The host stays, because
"which service failed" is what a person reading a trace needs.
"""

from __future__ import annotations

import urllib.parse

__all__ = ["ALLOWED_SCHEMES", "origin_of", "redact_url", "url_problem"]

ALLOWED_SCHEMES = ("http", "https")

_HIDDEN = "***"


def redact_url(url: str) -> str:
    """``url`` as scheme and host only, the path and query replaced by ``***``.

    User information (``user:password@``) is dropped as well. Text that does
    not parse as a URL is hidden whole: it may still be a secret.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return _HIDDEN
    if not parts.scheme or not host:
        return _HIDDEN
    shown_host = f"[{host}]" if ":" in host else host
    netloc = shown_host if port is None else f"{shown_host}:{port}"
    rest = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{netloc}/{_HIDDEN}" if rest else f"{parts.scheme}://{netloc}/"


def url_problem(url: object) -> str | None:
    """Why ``url`` cannot be posted to, or ``None`` when it can.

    Only absolute ``http`` and ``https`` URLs with a host: a ``file:``,
    ``ftp:`` or relative URL in a webhook setting is a mistake, and requests
    would either refuse it late or (with adapters mounted for other schemes)
    do something else than an HTTP POST. Whitespace and control characters
    are refused too: they never belong in a URL, and one in a header line
    could split it. The sentence never repeats the URL's path or query.
    """
    if not isinstance(url, str):
        return f"must be a string, got {type(url).__name__}"
    if not url.strip():
        return "must not be empty"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        return "must not contain spaces or control characters"
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        shown = parts.scheme or "no scheme"
        return f"must be an http:// or https:// URL, got {shown}"
    if not host:
        return "must name a host, like https://hooks.example.com/path"
    return None


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an accepted URL, the port filled in from the scheme."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port

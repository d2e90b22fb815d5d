"""Keeping the bot token out of every word the provider or its HTTP stack produces.

The Bot API takes the token in the request path (``/bot<token>/sendMessage``),
so anything that prints a URL prints the secret: requests' exceptions
("Max retries exceeded with url: /bot123:AA.../sendMessage"), urllib3's debug
log line for each request (shown by ``broadcastio -vv``), a response's
``url``. The provider scrubs every text it builds from those with
``scrub``; urllib3's log records are scrubbed by a filter on its loggers,
installed the first time a provider is made, for every token registered.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["REDACTED_TOKEN", "register_token", "scrub"]

REDACTED_TOKEN = "<token>"
"""What a token is replaced with: the path reads ``/bot<token>/sendMessage``."""

# The loggers of urllib3 that put request URLs in their records. A filter on a
# logger applies only to records created by that very logger, not its children,
# hence the full names.
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry")

_lock = threading.Lock()
_tokens: set[str] = set()
_installed = False


def scrub(text: str, token: str | None) -> str:
    """``text`` with ``token`` replaced by ``<token>``."""
    if token and token in text:
        return text.replace(token, REDACTED_TOKEN)
    return text


class _TokenFilter(logging.Filter):
    """Rewrites a record whose message holds a registered token; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            tokens = tuple(_tokens)
        if not tokens:
            return True
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        if any(token in text for token in tokens):
            for token in tokens:
                text = text.replace(token, REDACTED_TOKEN)
            record.msg = text
            record.args = None
        return True


def register_token(token: str) -> None:
    """Scrub ``token`` from urllib3's log records from now on, in this process.

    Tokens stay registered after their provider is closed: a short set of
    strings, and a closed provider's token is no less secret.
    """
    global _installed
    with _lock:
        _tokens.add(token)
        if _installed:
            return
        _installed = True
    token_filter = _TokenFilter()
    for name in _URL_LOGGERS:
        logging.getLogger(name).addFilter(token_filter)

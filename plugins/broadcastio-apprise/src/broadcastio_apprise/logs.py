"""Keeping URL secrets out of the log lines Apprise (and urllib3 under it) writes.

Apprise's secure logging hides URLs in most of its lines, but not all: at
debug level several plugins print the endpoint they post to (Discord's
webhook URL, token included), and urllib3 prints every request line with its
path. ``broadcastio -vv`` shows debug lines of every logger, so while a
provider sends, its URLs' secret parts are replaced by ``***`` in the records
of those two loggers.

The secrets travel in a context variable: Apprise runs each service in a
worker thread with a copy of the caller's context, so the filter sees the
sending provider's secrets there too, and no other code's log lines are
touched. Records of a thread checking URLs (``quiet``) are dropped instead:
the problem is reported once, as the ``ConfigurationError`` naming the key.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterator

__all__ = ["SCRUBBED_LOGGERS", "quiet", "scrubbing"]

SCRUBBED_LOGGERS = ("apprise", "urllib3.connectionpool")
"""The loggers whose records are scrubbed (and, while checking URLs, dropped)."""

_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "broadcastio_apprise_secrets", default=()
)
_quiet: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "broadcastio_apprise_quiet", default=False
)


class _ScrubSecrets(logging.Filter):
    """Drops records while URLs are checked; removes the active secrets from the others."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _quiet.get():
            return False
        secrets = _secrets.get()
        if not secrets:
            return True
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report
            return True
        scrubbed = text
        for secret in secrets:  # longest first, as ``scrubbing`` sorted them
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


_install_lock = threading.Lock()
_installed = False


def _install() -> None:
    """Attach the filter to the scrubbed loggers, once per process."""
    global _installed
    with _install_lock:
        if not _installed:
            for name in SCRUBBED_LOGGERS:
                logging.getLogger(name).addFilter(_ScrubSecrets())
            _installed = True


@contextlib.contextmanager
def scrubbing(secrets: tuple[str, ...]) -> Iterator[None]:
    """Within the block (and Apprise's workers it starts), ``secrets`` are scrubbed from logs."""
    _install()
    ordered = tuple(sorted({secret for secret in secrets if secret}, key=len, reverse=True))
    token = _secrets.set(ordered)
    try:
        yield
    finally:
        _secrets.reset(token)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Within the block, the scrubbed loggers' records are dropped (Apprise checking a URL)."""
    _install()
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)

"""Fixtures: the loopback HTTP server (for json://) and a plain SMTP server (for mailto://).

Apprise's services cannot be reached from here, so its real plugins talk to
real servers on loopback: the recording HTTP server of ``scripts/local_http.py``
and the aiosmtpd server of ``scripts/local_smtp.py`` the email tests use.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# local_http and local_smtp (shared with bench/ and the demo) live in scripts/;
# apprise_helpers beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).parent))

from local_http import HttpServer  # noqa: E402
from local_smtp import SmtpServer  # noqa: E402

# aiosmtpd logs a deprecation of its own at every session.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no TLS and no login: what Apprise's mailto:// with mode=insecure speaks."""
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()

"""Fixtures: a real SMTP server on loopback, with STARTTLS and AUTH, per test."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# local_smtp (the SMTP server, shared with bench/ and the demo) lives in
# scripts/; email_helpers beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).parent))

from email_helpers import PASSWORD, USER, provider_settings  # noqa: E402
from local_smtp import SmtpServer, make_certificate  # noqa: E402

from broadcastio_email import EmailProvider  # noqa: E402

# aiosmtpd logs a deprecation of its own (Session.login_data) at every login.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """STARTTLS with a certificate made for this run, and AUTH for USER/PASSWORD."""
    server = SmtpServer(
        certificate=certificate[0], key=certificate[1], users={USER: PASSWORD}
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_email_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own BROADCASTIO_EMAIL_* must not leak into what a test builds."""
    for variable in (
        "BROADCASTIO_EMAIL_HOST",
        "BROADCASTIO_EMAIL_PORT",
        "BROADCASTIO_EMAIL_USERNAME",
        "BROADCASTIO_EMAIL_PASSWORD",
        "BROADCASTIO_EMAIL_FROM",
    ):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def email_provider(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> Iterator[EmailProvider]:
    provider = EmailProvider(**provider_settings(smtp_server, certificate))
    try:
        yield provider
    finally:
        provider.close()

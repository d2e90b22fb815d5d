"""What the email tests share besides fixtures: the login and the settings reaching a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from local_smtp import SmtpServer

USER = "alerts@example.com"
PASSWORD = "s3cret-app-password"


def provider_settings(
    server: SmtpServer, certificate: tuple[Path, Path], **overrides: Any
) -> dict[str, Any]:
    """Settings that reach ``server`` over STARTTLS, logged in, trusting the test's certificate."""
    settings: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from_address": "Alerts <alerts@example.com>",
        "ca_file": str(certificate[0]),
        "timeout": 10.0,
    }
    settings.update(overrides)
    return settings

"""What the Apprise tests share besides fixtures: URLs reaching the loopback servers, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local_http import HttpServer
from local_smtp import SmtpServer

SCRIPT = Path(sys.executable).with_name("broadcastio")


def json_url(server: HttpServer, path: str = "/hook", *, auth: str = "", query: str = "") -> str:
    """An Apprise json:// URL posting to ``path`` on the loopback server."""
    host = server.url.split("://", 1)[1]
    return f"json://{auth}{host}{path}" + (f"?{query}" if query else "")


def mailto_url(server: SmtpServer, to: str = "ops@example.com") -> str:
    """An Apprise mailto:// URL handing mail to the loopback SMTP server, unencrypted."""
    return f"mailto://{server.host}:{server.port}?from=alerts@example.com&to={to}&mode=insecure"


def run_cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed ``broadcastio`` script, run in ``tmp_path`` without developer settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTIO_")}
    environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    environ["XDG_STATE_HOME"] = str(tmp_path / "state")
    environ["HOME"] = str(tmp_path / "home")
    environ.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=120,
        check=False,
    )

"""Two email instances (two SMTP accounts) in one chain, from Python and from the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from email_helpers import PASSWORD, USER, provider_settings
from local_smtp import SmtpServer

from broadcastio import Message, Orchestrator

SCRIPT = Path(sys.executable).with_name("broadcastio")


def test_the_second_email_instance_delivers_when_the_first_server_is_down(
    smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    down = SmtpServer()  # never started: its port refuses connections
    orchestrator = Orchestrator.from_plugins(
        ["primary-mail", "backup-mail"],
        settings={
            "primary-mail": {"type": "email", **provider_settings(down, certificate)},
            "backup-mail": {"type": "email", **provider_settings(smtp_server, certificate)},
        },
    )
    with orchestrator:
        result = orchestrator.send(Message("ops@example.org", "Disk full"), trace=True)

    assert result.success, result.error
    assert result.provider == "backup-mail"
    # Health (connect + EHLO) found the first server down: passed over, never attempted.
    assert result.providers_tried == ("backup-mail",)
    assert result.trace is not None
    (skipped,) = result.trace.skipped
    assert skipped.provider == "primary-mail"
    assert "unreachable" in skipped.details["reason"]
    assert len(smtp_server.messages) == 1


def test_the_cli_sends_through_an_email_instance_named_in_the_config(
    smtp_server: SmtpServer, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [orchestrator]
            order = ["alerts-mail"]

            [providers.alerts-mail]
            type = "email"
            host = "{smtp_server.host}"
            port = {smtp_server.port}
            username = "{USER}"
            password = "${{MAIL_PASSWORD}}"
            from_address = "Alerts <{USER}>"
            ca_file = "{certificate[0]}"
            """
        )
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }
    environment.update(MAIL_PASSWORD=PASSWORD, HOME=str(tmp_path))

    done = subprocess.run(
        [
            str(SCRIPT), "--config", str(config), "send", "--json",
            "--to", "ops@example.org", "--title", "Disk alert", "--text", "Disk full on db-1",
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "alerts-mail"
    assert PASSWORD not in done.stdout + done.stderr
    (received,) = smtp_server.messages
    assert received["Subject"] == "Disk alert"
    assert received["To"] == "ops@example.org"


def test_an_instance_on_its_own_server_never_logs_in_with_the_environment_password(
    smtp_server: SmtpServer, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    # BROADCASTIO_EMAIL_* describe the account on smtp.main.example. The
    # billing instance names another server and forgets its password: it must
    # not log in there with the main account's password (here one the billing
    # server would even accept, so a leak would show as a delivery).
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [providers.billing]
            type = "email"
            host = "{smtp_server.host}"
            port = {smtp_server.port}
            username = "{USER}"
            from_address = "Billing <{USER}>"
            ca_file = "{certificate[0]}"
            """
        )
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }
    environment.update(
        HOME=str(tmp_path),
        BROADCASTIO_EMAIL_HOST="smtp.main.example",
        BROADCASTIO_EMAIL_USERNAME=USER,
        BROADCASTIO_EMAIL_PASSWORD=PASSWORD,
    )

    def broadcastio(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), "--config", str(config), *arguments],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            timeout=60,
        )

    for done in (
        broadcastio("config", "--json"),
        broadcastio("send", "--provider", "billing", "--to", "ops@example.org", "--text", "x"),
    ):
        assert done.returncode == 2, done.stdout + done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("broadcastio: error: ")
        assert "providers.billing.password" in line
        assert PASSWORD not in done.stdout + done.stderr
    assert smtp_server.connections == 0
    assert smtp_server.messages == []

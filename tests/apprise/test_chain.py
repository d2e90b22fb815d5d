"""A chain ``apprise → email`` end to end: Apprise retried, then the email sent instead.

The Apprise instance posts to the loopback HTTP server (json://); the email
instance hands mail to the loopback SMTP server. While the HTTP service answers,
only it is notified; when it fails, broadcastio retries the Apprise instance
(the policy from the configuration) and then falls back to email.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from apprise_helpers import json_url, run_cli
from local_http import HttpServer, Reply
from local_smtp import SmtpServer

from broadcastio import Contact, ErrorCode, Message, Orchestrator, RetryPolicy

PERSON = Contact({"email": "ops@example.com"}, id="ops-oncall")


def email_settings(server: SmtpServer) -> dict[str, object]:
    return {
        "type": "email",
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from_address": "alerts@example.com",
        "timeout": 10.0,
    }


def chain(http_server: HttpServer, smtp_server: SmtpServer) -> Orchestrator:
    return Orchestrator.from_plugins(
        ["team", "mail"],
        settings={
            "team": {"type": "apprise", "urls": [json_url(http_server)], "timeout": 5.0},
            "mail": email_settings(smtp_server),
        },
        retry_policy=RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.01),
        health_ttl=None,
        environ={},
    )


def test_apprise_delivers_and_email_stays_quiet(
    http_server: HttpServer, smtp_server: SmtpServer
) -> None:
    with chain(http_server, smtp_server) as orchestrator:
        result = orchestrator.send(Message(PERSON, "Disk 91% full", title="db-1"))
    assert result.success and result.provider == "team"
    assert len(http_server.requests) == 1
    assert smtp_server.messages == []


def test_a_failing_apprise_service_is_retried_then_email_takes_over(
    http_server: HttpServer, smtp_server: SmtpServer
) -> None:
    http_server.default = Reply(500, b"maintenance")
    with chain(http_server, smtp_server) as orchestrator:
        result = orchestrator.send(
            Message(PERSON, "Disk 97% full", title="db-1 critical"), trace=True
        )
    assert result.success and result.provider == "mail"
    assert result.providers_tried == ("team", "mail")
    assert len(http_server.requests) == 2  # the first attempt and its retry
    assert result.trace is not None
    team_attempts = [attempt for attempt in result.trace.attempts if attempt.provider == "team"]
    assert len(team_attempts) == 2
    assert all(
        attempt.error is not None and attempt.error.code is ErrorCode.PROVIDER_UNAVAILABLE
        for attempt in team_attempts
    )
    (received,) = smtp_server.messages
    assert received["To"] == "ops@example.com"
    assert received["Subject"] == "db-1 critical"


def test_the_command_line_falls_back_from_apprise_to_email(
    tmp_path: Path, http_server: HttpServer, smtp_server: SmtpServer
) -> None:
    mail = "\n".join(
        f"{key} = {json.dumps(value)}" for key, value in email_settings(smtp_server).items()
    )
    config = tmp_path / "chain.toml"
    config.write_text(
        textwrap.dedent(
            """
            [orchestrator]
            order = ["team", "mail"]
            health_ttl = 0

            [providers.team]
            type = "apprise"
            urls = ["json://${HOOK_HOST}/hook"]
            timeout = 5

            [providers.team.retry]
            max_attempts = 2
            backoff = "fixed"
            base_delay = 0.01

            [providers.mail]
            """
        )
        + mail
        + "\n"
    )
    environ = {"HOOK_HOST": http_server.url.split("://", 1)[1]}
    to = ["--to", "email=ops@example.com", "--text", "Backup failed on db1"]

    first = run_cli(tmp_path, "--config", str(config), "send", *to, "--json", env=environ)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["provider"] == "team"
    assert smtp_server.messages == []

    http_server.default = Reply(503, b"down")
    second = run_cli(tmp_path, "--config", str(config), "send", *to, "--json", env=environ)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["provider"] == "mail"
    assert len(http_server.requests) == 1 + 2  # the first send, then two failed attempts
    (received,) = smtp_server.messages
    assert received["To"] == "ops@example.com"
    assert received.get_content().strip() == "Backup failed on db1"

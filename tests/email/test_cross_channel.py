"""Fallback across channels, end to end: WhatsApp through the real bridge, then email.

A contact with a phone number and an email address; the chain is WhatsApp, then
an email instance. With the bridge up, WhatsApp delivers and the SMTP server
receives nothing; with the bridge stopped, the email arrives. Once through the
Python API and once through the installed ``broadcastio`` command with a
configuration file holding the two instances; then a journaled broadcast of
500 people, some reachable on one channel only, where every person gets
exactly one message.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from email_helpers import provider_settings
from local_bridge import BridgeStartError, LocalBridge
from local_smtp import SmtpServer

from broadcastio import Contact, Journal, Message, Orchestrator, RetryPolicy

pytestmark = pytest.mark.integration

SCRIPT = Path(sys.executable).with_name("broadcastio")
API_KEY = "cross-channel-key-7c2e"
PERSON = Contact({"phone": "+15551230001", "email": "ops@example.com"}, id="ops-oncall")


@pytest.fixture
def bridge() -> Iterator[LocalBridge]:
    try:
        started = LocalBridge({"BRIDGE_API_KEY": API_KEY, "BRIDGE_LOG_LEVEL": "info"})
    except BridgeStartError as error:
        pytest.fail(str(error))
    try:
        yield started
    finally:
        started.stop()


def chain(bridge: LocalBridge, server: SmtpServer, certificate: tuple[Path, Path]) -> Orchestrator:
    return Orchestrator.from_plugins(
        ["whatsapp", "mail"],
        settings={
            "whatsapp": {**bridge.settings(), "timeout": [2.0, 10.0]},
            "mail": {"type": "email", **provider_settings(server, certificate)},
        },
        # One retry for a bridge that just went away, then the next channel.
        retry_policy=RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.05),
        health_ttl=None,
        environ={},
    )


def test_the_email_arrives_only_when_whatsapp_is_down(
    bridge: LocalBridge, smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    with chain(bridge, smtp_server, certificate) as orchestrator:
        first = orchestrator.send(Message(PERSON, "Disk 91% full on db-1", title="db-1"))
        assert first.success and first.provider == "whatsapp"
        (sent,) = bridge.sent()
        assert sent["to"] == "15551230001@c.us"
        assert smtp_server.messages == []

        bridge.stop()
        second = orchestrator.send(
            Message(PERSON, "Disk 97% full on db-1", title="db-1 critical"), trace=True
        )
    assert second.success and second.provider == "mail"
    assert second.providers_tried == ("mail",)  # WhatsApp's health said not ready
    assert second.trace is not None
    assert [health.provider for health in second.trace.skipped] == ["whatsapp"]
    (received,) = smtp_server.messages
    assert received["To"] == "ops@example.com"
    assert received["Subject"] == "db-1 critical"
    assert received.get_content().strip() == "Disk 97% full on db-1"


def toml_table(name: str, values: dict[str, Any]) -> str:
    lines = [f"[providers.{name}]"]
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTIO_")}
    environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    environ["XDG_STATE_HOME"] = str(tmp_path / "state")
    return subprocess.run(
        [str(SCRIPT), "--config", str(tmp_path / "two.toml"), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=120,
        check=False,
    )


@pytest.fixture
def two_instances(
    tmp_path: Path, bridge: LocalBridge, smtp_server: SmtpServer, certificate: tuple[Path, Path]
) -> Path:
    config = "\n\n".join(
        [
            '[orchestrator]\norder = ["whatsapp", "mail"]\nhealth_ttl = 0\n'
            '[orchestrator.retry]\nmax_attempts = 2\nbackoff = "fixed"\nbase_delay = 0.05',
            toml_table("whatsapp", {**bridge.settings(), "timeout": [2.0, 10.0]}),
            toml_table("mail", {"type": "email", **provider_settings(smtp_server, certificate)}),
        ]
    )
    path = tmp_path / "two.toml"
    path.write_text(config + "\n")
    return path


def test_the_command_line_falls_back_from_whatsapp_to_email(
    tmp_path: Path, two_instances: Path, bridge: LocalBridge, smtp_server: SmtpServer
) -> None:
    to = ["--to", "phone=+15551230001", "--to", "email=ops@example.com"]
    first = run_cli(tmp_path, "send", *to, "--text", "Backup failed on db1", "--title", "db1")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("delivered via whatsapp")
    assert len(bridge.sent()) == 1 and smtp_server.messages == []

    bridge.stop()
    second = run_cli(tmp_path, "send", *to, "--text", "Backup failed again", "--json")
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["provider"] == "mail" and result["test_double"] is False
    (received,) = smtp_server.messages
    assert received["To"] == "ops@example.com"
    assert received.get_content().strip() == "Backup failed again"


def test_a_broadcast_reaches_every_person_once_through_the_channel_they_have(
    tmp_path: Path, two_instances: Path, bridge: LocalBridge, smtp_server: SmtpServer
) -> None:
    people = []
    for index in range(500):
        phone = f"+1555400{index:04d}" if index % 3 != 1 else ""
        email = f"person{index}@example.com" if index % 3 != 0 else ""
        people.append({"id": f"p{index}", "phone": phone, "email": email})
    with (tmp_path / "people.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "phone", "email"])
        writer.writeheader()
        writer.writerows(people)
    journal = tmp_path / "journal.sqlite"
    result = run_cli(
        tmp_path, "broadcast", "--recipients", "people.csv", "--text", "Hello {id}",
        "--journal", str(journal), "--id", "announce", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["delivered"] == 500

    by_phone = {sent["to"] for sent in bridge.sent()}
    by_email = [message["To"] for message in smtp_server.messages]
    assert len(by_email) == len(set(by_email))
    # Phone first: everyone with a phone got WhatsApp and nothing else.
    expected_phone = {f"1555400{i:04d}@c.us" for i in range(500) if people[i]["phone"]}
    expected_email = {
        people[i]["email"] for i in range(500) if not people[i]["phone"] and people[i]["email"]
    }
    assert by_phone == expected_phone and len(bridge.sent()) == len(expected_phone)
    assert set(by_email) == expected_email
    assert len(by_phone) + len(by_email) == 500

    with Journal(journal, read_only=True) as opened:
        rows = list(opened.rows("announce"))
    assert len(rows) == 500
    channels = {row.provider for row in rows}
    assert channels == {"whatsapp", "mail"}
    assert sum(row.provider == "mail" for row in rows) == len(expected_email)


def test_bad_contacts_and_an_unknown_type_are_refused_before_any_send(
    tmp_path: Path, two_instances: Path, bridge: LocalBridge, smtp_server: SmtpServer
) -> None:
    bad_email = run_cli(tmp_path, "send", "--to", "email=not-an-address", "--text", "hi")
    assert bad_email.returncode == 2
    assert "'--to'" in bad_email.stderr and "Traceback" not in bad_email.stderr

    (tmp_path / "nobody.csv").write_text("id,phone,email\nlonely,,\n")
    no_address = run_cli(
        tmp_path, "broadcast", "--recipients", "nobody.csv", "--text", "hi", "--no-journal"
    )
    assert no_address.returncode == 2
    assert "line 2" in no_address.stderr

    two_instances.write_text(two_instances.read_text().replace('type = "email"', 'type = "fax"'))
    unknown = run_cli(tmp_path, "send", "--to", "+15551230001", "--text", "hi")
    assert unknown.returncode == 2
    assert "providers.mail.type" in unknown.stderr and "email" in unknown.stderr
    assert bridge.sent() == [] and smtp_server.messages == []

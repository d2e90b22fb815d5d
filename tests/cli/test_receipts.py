"""Delivery receipts end to end: the fake WhatsApp's acks reach the journal through the real
bridge and the installed ``broadcastio`` script (``journal sync``, ``broadcast
--wait-receipts``, ``journal show``/``export``), and an installed plugin hears ``on_receipt``.

The fake driver's ``/__fake/ack`` plays WhatsApp reporting a message's ticks; a
row delivered by another provider (the dummy, after WhatsApp refused its send)
has no receipts and must read "unknown", never "delivered".
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

pytestmark = pytest.mark.integration

API_KEY = "receipts-key-51c9e0"
PHONES = ["+15550001001", "+15550001002", "+15550001003"]

# An installed plugin that appends each on_receipt it hears to $RECEIPT_LOG.
LISTENER = """
import json
import os

from broadcastio import hookimpl


@hookimpl
def on_receipt(broadcast_id, recipient, provider, receipt, previous):
    with open(os.environ["RECEIPT_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps([broadcast_id, recipient, provider, receipt.state.value,
                              None if previous is None else previous.value]) + "\\n")
"""


@pytest.fixture(scope="module")
def bridge() -> Iterator[LocalBridge]:
    try:
        bridge = LocalBridge({"BRIDGE_API_KEY": API_KEY})
    except BridgeStartError as error:
        pytest.fail(str(error))
    yield bridge
    bridge.stop()


@pytest.fixture
def setup(
    bridge: LocalBridge, tmp_path: Path, write_config: Callable[..., Path], make_distribution: Any
) -> dict[str, Any]:
    """A config (whatsapp, then dummy), a recipients file, a listening plugin; the env to run."""
    bridge.reset()
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]

        [providers.whatsapp]
        base_url = "{bridge.url}"
        api_key = "${{BRIDGE_KEY}}"

        [providers.whatsapp.retry]
        max_attempts = 1
        """
    )
    (tmp_path / "team.csv").write_text("recipient\n" + "\n".join(PHONES) + "\n")
    site = make_distribution(
        tmp_path / "site",
        "broadcastio-receipt-listener",
        {"receipt-listener": "receipt_listener"},
        {"receipt_listener": LISTENER},
    )
    log = tmp_path / "receipts.log"
    env = {"BRIDGE_KEY": API_KEY, "PYTHONPATH": str(site), "RECEIPT_LOG": str(log)}
    return {"env": env, "journal": tmp_path / "journal.sqlite", "log": log}


def heard(log: Path) -> list[list[Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def message_ids(bridge: LocalBridge) -> dict[str, str]:
    """Recipient (as the CSV has it) -> the id WhatsApp gave its message."""
    return {"+" + sent["to"].split("@")[0]: sent["id"] for sent in bridge.sent()}


def test_sync_records_acks_counts_them_and_fires_the_hook(
    bridge: LocalBridge, setup: dict[str, Any], run_script: Callable[..., Any]
) -> None:
    env, journal = setup["env"], str(setup["journal"])
    # WhatsApp refuses the first send: the dummy delivers that one, without receipts.
    bridge.script({"type": "send_failed"})
    sent = run_script("broadcast", "--recipients", "team.csv", "--text", "Hi", "--journal",
                      journal, "--id", "b1", "--concurrency", "1", env=env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    ids = message_ids(bridge)
    assert sorted(ids) == PHONES[1:]
    bridge.ack(ids[PHONES[1]], "SERVER")
    bridge.ack(ids[PHONES[1]], "DEVICE")
    bridge.ack(ids[PHONES[2]], "READ")

    synced = run_script("journal", "sync", "b1", "--journal", journal, "--json", env=env)
    assert synced.returncode == 0, synced.stderr
    data = json.loads(synced.stdout)
    assert data["receipts"] == {
        "sent": 3, "pending": 0, "server": 0, "device": 2, "read": 1, "error": 0, "unknown": 1,
    }  # fmt: skip
    assert data["asked"] == 2 and data["changes"] == 2
    assert data["without_receipts"] == {"dummy": 1}
    assert sorted(heard(setup["log"])) == [
        ["b1", PHONES[1], "whatsapp", "device", None],
        ["b1", PHONES[2], "whatsapp", "read", None],
    ]

    # Nothing new: nothing recorded, no hook.
    again = run_script("journal", "sync", "b1", "--journal", journal, "--json", env=env)
    assert json.loads(again.stdout)["changes"] == 0
    assert len(heard(setup["log"])) == 2
    # A later tick is a change from what the journal had.
    bridge.ack(ids[PHONES[1]], "READ")
    human = run_script("journal", "sync", "b1", "--journal", journal, env=env)
    assert human.returncode == 0, human.stderr
    assert "1 receipt change(s) recorded" in human.stdout
    assert "dummy: 1 row(s) without receipts" in human.stdout
    assert heard(setup["log"])[-1] == ["b1", PHONES[1], "whatsapp", "read", "device"]

    shown = run_script("journal", "show", "b1", "--journal", journal, env=env)
    assert "receipts: 3 sent, 2 delivered to device, 2 read, 1 unknown" in shown.stdout
    as_json = json.loads(run_script("journal", "show", "b1", "--journal", journal, "--json").stdout)
    assert as_json["receipts"]["read"] == 2 and as_json["receipts"]["unknown"] == 1
    exported = run_script("journal", "export", "b1", "--journal", journal)
    rows = {row["recipient"]: row for row in csv.DictReader(io.StringIO(exported.stdout))}
    assert {phone: rows[phone]["receipt"] for phone in PHONES} == {
        PHONES[0]: "unknown", PHONES[1]: "read", PHONES[2]: "read",
    }  # fmt: skip
    assert rows[PHONES[0]]["provider"] == "dummy"
    assert rows[PHONES[1]]["delivered_at"] and rows[PHONES[1]]["read_at"]
    assert rows[PHONES[0]]["delivered_at"] == ""


def test_an_unreachable_bridge_fails_the_sync_and_records_nothing(
    bridge: LocalBridge,
    setup: dict[str, Any],
    run_script: Callable[..., Any],
    write_config: Callable[..., Path],
    closed_port: int,
) -> None:
    env, journal = setup["env"], str(setup["journal"])
    sent = run_script("broadcast", "--recipients", "team.csv", "--text", "Hi",
                      "--journal", journal, "--id", "b2", env=env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    for message_id in message_ids(bridge).values():
        bridge.ack(message_id, "DEVICE")
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]

        [providers.whatsapp]
        base_url = "http://127.0.0.1:{closed_port}"
        api_key = "${{BRIDGE_KEY}}"
        """
    )
    synced = run_script("journal", "sync", "b2", "--journal", journal, env=env)
    assert synced.returncode == 1, synced.stderr
    assert "whatsapp: cannot be asked" in synced.stdout
    assert "Traceback" not in synced.stderr
    assert "receipts: 3 sent, 0 delivered to device, 0 read, 3 unknown" in synced.stdout
    assert heard(setup["log"]) == []


def test_broadcast_waits_for_receipts_until_every_message_reached_the_device(
    bridge: LocalBridge,
    setup: dict[str, Any],
    script: Path,
    script_env: dict[str, str],
    tmp_path: Path,
) -> None:
    journal = str(setup["journal"])
    child = subprocess.Popen(
        [str(script), "broadcast", "--recipients", "team.csv", "--text", "Hi",
         "--journal", journal, "--id", "b3", "--wait-receipts", "120", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**script_env, **setup["env"]},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while len(bridge.sent()) < len(PHONES):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the broadcast never sent"
        time.sleep(0.1)
    for message_id in message_ids(bridge).values():
        bridge.ack(message_id, "DEVICE")
    try:
        stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, stderr
    assert json.loads(stdout)["receipts"]["device"] == len(PHONES)
    assert f"receipts: {len(PHONES)} sent, {len(PHONES)} delivered to device" in stderr


def test_wait_receipts_needs_the_journal(run_script: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "team.csv").write_text("recipient\n+15550001001\n")
    done = run_script("broadcast", "--recipients", "team.csv", "--text", "Hi", "--no-journal",
                      "--wait-receipts", "5")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("broadcastio: error: ") and "--wait-receipts" in done.stderr
    negative = run_script("broadcast", "--recipients", "team.csv", "--text", "Hi",
                          "--wait-receipts", "-1")  # fmt: skip
    assert negative.returncode == 2 and "--wait-receipts" in negative.stderr


def test_an_instance_the_configuration_cannot_build_is_a_warning_not_a_failure(
    run_script: Callable[..., Any], dummy_config: Callable[..., Path], tmp_path: Path
) -> None:
    from broadcastio import Message, Orchestrator
    from broadcastio.broadcast import broadcast
    from broadcastio_dummy import DummyProvider

    gone = DummyProvider()
    gone.name = "gone"  # type: ignore[misc]
    journal = tmp_path / "j.sqlite"
    broadcast(Orchestrator([gone]), [Message("+1555", "x")], journal=journal, broadcast_id="g")
    broadcast(Orchestrator([DummyProvider()]), [Message("+1556", "x")], journal=journal,
              broadcast_id="g")  # fmt: skip
    dummy_config()
    synced = run_script("--config", "dummy.toml", "journal", "sync", "g", "--journal", str(journal))
    assert synced.returncode == 0, synced.stderr
    (warning,) = synced.stderr.splitlines()
    assert warning.startswith("broadcastio: warning: provider 'gone' cannot be built")
    assert "unknown provider 'gone'" in warning and "--provider" not in warning
    assert "gone:" not in synced.stdout and "dummy: 1 row(s) without receipts" in synced.stdout
    assert "receipts: 2 sent, 0 delivered to device, 0 read, 2 unknown" in synced.stdout
    unknown = run_script("--config", "dummy.toml", "journal", "sync", "nope", "--journal",
                         str(journal))  # fmt: skip
    assert unknown.returncode == 2
    (line,) = unknown.stderr.splitlines()
    assert line == f"broadcastio: error: no broadcast 'nope' in journal {journal}"

"""Crashes across processes: a worker SIGKILLed mid-run, and the submitting command killed.

The provider is the real WhatsApp plugin and the receiver the node bridge with
its fake driver (scripts/local_bridge.py), slowed by a scripted delay per
send. The bridge sends one message at a time; once 40 are delivered, one send
takes seconds, so every sending thread of both workers has a request waiting
at the bridge when the worker is killed. The fake's record of deliveries is
the receiving side's truth: every recipient must be there exactly once. The
resends a redelivered message causes carry the same reference id, which the
bridge takes as its Idempotency-Key and answers from its first send.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until, write_recipients
from local_bridge import BridgeStartError, LocalBridge

from broadcastio.broadcast import Journal, RecipientState

API_KEY = "distributed-crash-test-key-8e2d"
RECIPIENTS = 500
THREADS = 4  # per worker
LONG_SEND_MS = 5000


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


def whatsapp_config(tmp_path: Path, bridge: LocalBridge) -> Path:
    path = tmp_path / "whatsapp.toml"
    path.write_text(
        '[orchestrator]\norder = ["whatsapp"]\n\n'
        f'[providers.whatsapp]\nbase_url = "{bridge.url}"\napi_key = "{API_KEY}"\n'
    )
    return path


def delivered(journal: Path | str, broadcast_id: str) -> int:
    try:
        with Journal(journal, read_only=True) as opened:
            return opened.summary(broadcast_id)[RecipientState.DELIVERED]
    except Exception:  # noqa: BLE001 - the journal or the broadcast is not there yet
        return 0


def assert_each_once(bridge: LocalBridge, numbers: list[str]) -> None:
    received = Counter(message["to"] for message in bridge.sent())
    expected = {f"{number.lstrip('+')}@c.us" for number in numbers}
    assert set(received) == expected
    twice = {to: count for to, count in received.items() if count != 1}
    assert twice == {}, f"delivered more than once: {twice}"


def test_a_worker_killed_mid_run_is_replaced_and_everyone_gets_one_message(
    tmp_path: Path, redis_url: str, bridge: LocalBridge, processes: Processes, journal_arg: str
) -> None:
    """On each journal backend: an SQLite file, and PostgreSQL (``journal_arg``)."""
    config = whatsapp_config(tmp_path, bridge)
    numbers = write_recipients(tmp_path / "people.csv", RECIPIENTS)
    bridge.script(
        *[{"type": "delay", "ms": 20}] * 40,
        {"type": "delay", "ms": LONG_SEND_MS},  # the 41st send: the others queue behind it
        *[{"type": "delay", "ms": 20}] * (RECIPIENTS + 20),
    )
    doomed = processes.worker(
        redis_url, config, "--threads", str(THREADS), log="doomed.log", journal=journal_arg
    )
    processes.worker(
        redis_url, config, "--threads", str(THREADS), log="survivor.log", journal=journal_arg
    )
    submitter = processes.start(
        "broadcast", "--queue", redis_url, "--journal", journal_arg, "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "crash", "--json",
        log="submitter.log",
    )  # fmt: skip
    journal = tmp_path / journal_arg if "://" not in journal_arg else journal_arg
    wait_until(lambda: delivered(journal, "crash") >= 40, 60, "the first deliveries")
    # Every thread of both workers has a request at the bridge (one running, the
    # long one, the rest queued behind it): the doomed worker is mid-send.
    wait_until(
        lambda: bridge.queue_depth() >= 2 * THREADS, 30, "every thread to have a send under way"
    )
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    with Journal(journal, read_only=True) as opened:
        in_flight_at_kill = {
            row.recipient for row in opened.rows("crash") if row.state is RecipientState.IN_FLIGHT
        }
    assert len(in_flight_at_kill) >= THREADS, in_flight_at_kill
    processes.worker(
        redis_url, config, "--threads", str(THREADS), log="replacement.log", journal=journal_arg
    )
    assert submitter.wait(timeout=180) == 0, processes.output()
    report = json.loads((tmp_path / "submitter.log").read_text().split("\n", 1)[1])
    assert report["delivered"] == RECIPIENTS
    assert report["failed"] == report["ambiguous"] == 0
    assert_each_once(bridge, numbers)
    with Journal(journal, read_only=True) as opened:
        rows = list(opened.rows("crash"))
    assert {row.state for row in rows} == {RecipientState.DELIVERED}
    # The doomed worker's sends under way were sent again, each exactly once more,
    # and only those: a row not in flight at the kill was sent once.
    resent = {row.recipient for row in rows if row.attempts > 1}
    assert len(resent) >= 1, "no send of the killed worker was sent again"
    assert resent <= in_flight_at_kill, resent - in_flight_at_kill
    assert {row.attempts for row in rows if row.recipient in resent} == {2}


def test_the_submitting_command_killed_the_workers_finish_and_journal_show_reports(
    tmp_path: Path,
    redis_url: str,
    bridge: LocalBridge,
    processes: Processes,
    run_cli,
    journal_arg: str,
) -> None:
    """On each journal backend: an SQLite file, and PostgreSQL (``journal_arg``)."""
    config = whatsapp_config(tmp_path, bridge)
    numbers = write_recipients(tmp_path / "people.csv", RECIPIENTS)
    bridge.script(*[{"type": "delay", "ms": 20}] * (RECIPIENTS + 20))
    for _ in range(2):
        processes.worker(redis_url, config, "--threads", "4", journal=journal_arg)
    submitter = processes.start(
        "broadcast", "--queue", redis_url, "--journal", journal_arg, "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "headless",
    )  # fmt: skip
    journal = tmp_path / journal_arg if "://" not in journal_arg else journal_arg
    wait_until(lambda: delivered(journal, "headless") >= 20, 60, "the first deliveries")
    os.killpg(submitter.pid, signal.SIGKILL)
    submitter.wait(timeout=10)
    assert delivered(journal, "headless") < RECIPIENTS
    wait_until(
        lambda: delivered(journal, "headless") == RECIPIENTS, 120, "the workers to finish"
    )
    shown = run_cli("journal", "show", "--journal", journal_arg, "headless", "--json")
    assert shown.returncode == 0, shown.stderr
    assert_each_once(bridge, numbers)
    states = [line for line in shown.stdout.splitlines() if '"state"' in line]
    assert states and all('"delivered"' in line for line in states)

    # The killed submitter never let go of its share of the queue lease: the share
    # lapses by itself, so a resume through the queue is refused only until then.
    def resumed() -> bool:
        again = run_cli(
            "broadcast", "--queue", redis_url, "--journal", journal_arg, "--config", str(config),
            "--recipients", "people.csv", "--text", "hello", "--resume", "headless", "--json",
        )  # fmt: skip
        if again.returncode == 2 and "still outstanding" in again.stderr:
            return False
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["already_delivered"] == RECIPIENTS
        return True

    wait_until(resumed, 60, "the killed submitter's share of the lease to lapse")
    assert_each_once(bridge, numbers)

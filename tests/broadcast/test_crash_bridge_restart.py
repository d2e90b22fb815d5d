"""A broadcast killed with SIGKILL, then its bridge killed with SIGKILL and restarted, resumes.

The bridge keeps its idempotency keys, messages and the fake WhatsApp's record of
deliveries in SQLite under ``BRIDGE_DATA_DIR`` (node-bridge/src/store-sqlite.js), so
the restarted bridge (same data directory) still knows every key the dead one
answered, and ``/__fake/sent`` lists the deliveries of both processes. Real
processes throughout: ``crash_child.py`` broadcasts, the bridges run ``node``.

Two cases: the bridge killed while idle (every recipient then gets exactly one
message), and killed in the middle of a send (that recipient's outcome is unknown:
the resumed run reports it ambiguous and nobody sends it again).
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import crash_child
import pytest
from local_bridge import LocalBridge

from broadcastio import ErrorCode, Orchestrator, RetryPolicy, ValidationError
from broadcastio.broadcast import (
    BroadcastReport,
    Journal,
    RecipientOutcome,
    RecipientState,
    broadcast,
)
from broadcastio_whatsapp import WhatsAppProvider

pytestmark = pytest.mark.integration

BROADCAST = "crash-restart"
CHILD = Path(crash_child.__file__)


def delivered_so_far(journal_path: Path) -> int:
    try:
        with Journal(journal_path, create=False) as journal:
            return journal.summary(BROADCAST)[RecipientState.DELIVERED]
    except ValidationError:  # not created yet
        return 0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


def start_child(bridge: LocalBridge, journal_path: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        str(CHILD),
        "--url",
        bridge.url,
        "--api-key",
        str(bridge.api_key),
        "--journal",
        str(journal_path),
        "--broadcast-id",
        BROADCAST,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_child(child: subprocess.Popen[str]) -> None:
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=10) == -signal.SIGKILL


def resume(
    bridge: LocalBridge, journal_path: Path
) -> tuple[BroadcastReport, list[RecipientOutcome]]:
    """The resumed run, as an operator would start it, against the restarted bridge.

    TIMEOUT is retried: with the same idempotency key a retry is answered from the
    bridge's store, never sent again.
    """
    policy = RetryPolicy(
        max_attempts=3,
        backoff="fixed",
        base_delay=0.1,
        retry_on=[ErrorCode.TIMEOUT, ErrorCode.PROVIDER_UNAVAILABLE],
    )
    outcomes: list[RecipientOutcome] = []
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        report = broadcast(
            Orchestrator([provider], retry_policy=policy),
            crash_child.messages(),
            journal=journal_path,
            broadcast_id=BROADCAST,
            concurrency=4,
            on_result=outcomes.append,
        )
    return report, outcomes


def test_a_killed_broadcast_and_a_killed_bridge_resume_without_sending_twice(
    bridge_factory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "bridge-data"
    env = {"BRIDGE_MIN_INTERVAL_MS": "0", "BRIDGE_JITTER_MS": "0", "BRIDGE_DATA_DIR": str(data_dir)}
    bridge = bridge_factory(**env)
    # About 4 s for the 500 sends: plenty of time to kill the child part-way.
    bridge.script(*[{"type": "delay", "ms": 8}] * 600)
    journal_path = tmp_path / "journal.sqlite"
    child = start_child(bridge, journal_path)
    try:
        wait_until(lambda: delivered_so_far(journal_path) >= 40, "the journal shows 40 deliveries")
        kill_child(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The send the dead child had under way finishes on the bridge (its journal
    # row stays in flight); requests still queued are dropped with their sockets.
    wait_until(lambda: bridge.queue_depth() == 0, "the bridge finished the send under way")
    with Journal(journal_path) as journal:
        before = journal.summary(BROADCAST)
    looked_up_before = set(bridge.lookups())
    bridge.kill()

    restarted = bridge_factory(**env)
    report, outcomes = resume(restarted, journal_path)
    assert report.complete, report
    assert report.already_delivered == before[RecipientState.DELIVERED]
    assert report.ambiguous == 0 and report.failed == 0, report

    # The restarted bridge's record holds the dead bridge's deliveries too.
    sent = collections.Counter(entry["to"] for entry in restarted.sent())
    assert len(sent) == crash_child.RECIPIENTS
    assert set(sent.values()) == {1}, {to: n for to, n in sent.items() if n > 1}
    # The sends the dead child had under way were answered by the first bridge
    # and are replayed by the second from its store, not sent again.
    replayed = [o for o in outcomes if o.result is not None and o.result.details.get("replayed")]
    assert replayed and len(replayed) <= before[RecipientState.IN_FLIGHT]
    with Journal(journal_path) as journal:
        assert journal.summary(BROADCAST)[RecipientState.DELIVERED] == crash_child.RECIPIENTS
    # Number lookups are cached in the bridge's store: the restarted bridge asked
    # WhatsApp only about numbers the first one never looked up, each once.
    looked_up_after = restarted.lookups()
    assert len(looked_up_after) == len(set(looked_up_after))
    assert looked_up_before and not looked_up_before & set(looked_up_after)
    assert len(looked_up_before) + len(looked_up_after) == crash_child.RECIPIENTS


def test_a_send_cut_off_by_a_killed_bridge_is_ambiguous_and_never_sent_again(
    bridge_factory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "bridge-data"
    env = {"BRIDGE_MIN_INTERVAL_MS": "0", "BRIDGE_JITTER_MS": "0", "BRIDGE_DATA_DIR": str(data_dir)}
    bridge = bridge_factory(**env)
    # The 31st send to reach the fake hangs for a minute: the bridge is killed
    # in the middle of it, its Idempotency-Key written in flight.
    quick = {"type": "delay", "ms": 1}
    bridge.script(*[quick] * 30, {"type": "delay", "ms": 60000}, *[quick] * 600)
    journal_path = tmp_path / "journal.sqlite"
    child = start_child(bridge, journal_path)
    try:
        wait_until(lambda: delivered_so_far(journal_path) >= 30, "the journal shows 30 deliveries")
        kill_child(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # Only the hanging send is left: the others queued behind it were dropped.
    wait_until(lambda: bridge.queue_depth() == 1, "only the hanging send is left")
    assert len(bridge.sent()) == 30
    bridge.kill()

    restarted = bridge_factory(**env)
    report, outcomes = resume(restarted, journal_path)
    assert not report.complete and not report.interrupted, report
    assert report.ambiguous == 1 and report.failed == 0, report
    assert report.delivered + report.already_delivered == crash_child.RECIPIENTS - 1
    [cut_off] = [o for o in outcomes if o.result is not None and not o.result.success]
    assert cut_off.result is not None and cut_off.result.error is not None
    assert cut_off.result.error.code is ErrorCode.TIMEOUT
    assert cut_off.result.error.details["bridge_code"] == "SEND_OUTCOME_UNKNOWN"
    assert cut_off.result.error.details["outcome"] == "unknown"

    sent = collections.Counter(entry["to"] for entry in restarted.sent())
    assert set(sent.values()) == {1}, {to: n for to, n in sent.items() if n > 1}
    assert len(sent) == crash_child.RECIPIENTS - 1
    assert f"{cut_off.recipient.lstrip('+')}@c.us" not in sent
    with Journal(journal_path) as journal:
        summary = journal.summary(BROADCAST)
    assert summary[RecipientState.DELIVERED] == crash_child.RECIPIENTS - 1
    assert summary[RecipientState.AMBIGUOUS] == 1

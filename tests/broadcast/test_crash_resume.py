"""A broadcast killed with SIGKILL part-way resumes, and nobody gets a message twice.

Real processes: the node bridge (fake WhatsApp driver) is started by the test
and outlives the broadcasting process, which is ``crash_child.py`` run with
``sys.executable``. Every fake send is scripted to take 8 ms, so the bridge is
always in the middle of one: when the child is killed (once its journal shows
delivered rows), that send still completes on WhatsApp's side while its row
stays ``in_flight`` in the journal; other in-flight rows are requests the bridge
drops with the dead connection, or tasks still queued in the child. The test
resumes the broadcast in-process with the same id and journal and checks the
fake WhatsApp's own record: every recipient exactly once, and at least one
resend answered by the bridge as a replay of the send the dead process started.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import crash_child
import pytest

from broadcastio import ErrorCode, Orchestrator, RetryPolicy, ValidationError
from broadcastio.broadcast import Journal, RecipientState, broadcast
from broadcastio_whatsapp import WhatsAppProvider

pytestmark = pytest.mark.integration

BROADCAST = "crash-test"
CHILD = Path(crash_child.__file__)


def wait_for_delivered(
    journal_path: Path | str, child: subprocess.Popen[str], at_least: int
) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the broadcast ended on its own: {child.communicate()}"
        try:
            with Journal(journal_path, create=False) as journal:
                delivered = journal.summary(BROADCAST)[RecipientState.DELIVERED]
        except ValidationError:  # not created yet
            delivered = 0
        if delivered >= at_least:
            return delivered
        time.sleep(0.05)
    raise AssertionError("the journal never showed delivered rows")


def test_a_killed_broadcast_resumes_without_sending_twice(bridge_factory, journal_url: str) -> None:
    """On each journal backend (``journal_url``): SQLite, and PostgreSQL."""
    bridge = bridge_factory(BRIDGE_MIN_INTERVAL_MS="0", BRIDGE_JITTER_MS="0")
    # About 4 s for the 500 sends: plenty of time to kill the child part-way.
    bridge.script(*[{"type": "delay", "ms": 8}] * 600)
    journal_path = journal_url
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
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_delivered(journal_path, child, at_least=40)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    with Journal(journal_path) as journal:
        before = journal.summary(BROADCAST)
    assert 40 <= before[RecipientState.DELIVERED] < crash_child.RECIPIENTS

    # The resumed run, as an operator would start it. TIMEOUT is retried: safe
    # here because the bridge deduplicates on the key, and it covers a send the
    # bridge may still be finishing for the dead process (409, in flight).
    policy = RetryPolicy(
        max_attempts=5,
        backoff="fixed",
        base_delay=0.2,
        retry_on=[ErrorCode.TIMEOUT, ErrorCode.PROVIDER_UNAVAILABLE],
    )
    replays = []

    def note_replays(outcome):
        if outcome.result is not None and outcome.result.details.get("replayed"):
            replays.append(outcome.recipient)

    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        report = broadcast(
            Orchestrator([provider], retry_policy=policy),
            crash_child.messages(),
            journal=journal_path,
            broadcast_id=BROADCAST,
            concurrency=4,
            on_result=note_replays,
        )
    assert report.run == 2 and report.complete, report
    assert report.already_delivered == before[RecipientState.DELIVERED]
    assert report.delivered == crash_child.RECIPIENTS - before[RecipientState.DELIVERED]

    sent = collections.Counter(entry["to"] for entry in bridge.sent())
    assert len(sent) == crash_child.RECIPIENTS
    assert set(sent.values()) == {1}, {to: n for to, n in sent.items() if n > 1}
    # The send the dead process had under way was not repeated but replayed.
    assert replays and len(replays) <= before[RecipientState.IN_FLIGHT]
    with Journal(journal_path) as journal:
        assert journal.summary(BROADCAST)[RecipientState.DELIVERED] == crash_child.RECIPIENTS

"""A submitter whose share of the lease lapsed while it was still queuing stops queuing.

The share lapses when the submitter stalls for as long as it lives (SIGSTOP,
a laptop asleep, Redis out of reach); the workers may then end the lease,
and with it the journal's mark, while the submitter would go on queuing
messages nothing counts: a local resume would then send their rows beside
the workers. The submission fails closed instead: one error saying how many
messages were queued (exit 2 on the command line), nothing queued after.

The stall is played by taking the share's key out of Redis, which is what
its expiry does, between two batches (in process) or while the submitting
process is stopped (the command line).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed_helpers import SCRIPT, write_recipients

from broadcastio import Message
from broadcastio.broadcast import Journal, RecipientState
from broadcastio.distributed import QueueLeaseLapsed, submit_broadcast
from broadcastio.distributed.lease import message_done
from broadcastio.errors import ConfigurationError

QUEUE, STORED = "dramatiq:broadcastio", "dramatiq:broadcastio.msgs"
BATCH = 500  # submit_broadcast's batch: the stall comes between the first two


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        connection.close()


def queued_payloads(client: Any) -> list[dict[str, Any]]:
    """The payloads of the messages on the queue, as a worker would receive them."""
    return [json.loads(data)["args"][0] for data in client.hvals(STORED)]


def share_keys(client: Any) -> list[bytes]:
    return list(client.scan_iter("broadcastio:lease:*:submitter"))


@pytest.mark.parametrize("drained", [False, True], ids=["still-counted", "drained-meanwhile"])
def test_a_submitter_whose_share_lapsed_stops_queuing(
    tmp_path: Path, redis_url: str, client: Any, drained: bool
) -> None:
    """Between two batches the share lapses; with ``drained``, the workers also finish the
    first batch meanwhile, which ends the lease and removes the mark."""
    journal_path = tmp_path / "journal.sqlite"

    def messages() -> Iterator[Message]:
        for index in range(BATCH + 100):
            if index == BATCH:
                (share,) = share_keys(client)
                client.delete(share)  # the share lapses: the submitter stalled
                if drained:
                    with Journal(journal_path) as worker_journal:
                        for payload in queued_payloads(client):
                            message_done(client, payload, worker_journal)
            yield Message(f"+1555{index:07d}", "hello")

    with pytest.raises(QueueLeaseLapsed) as lapsed:
        submit_broadcast(
            messages(),
            journal=Journal(journal_path),
            broadcast_id="stalled",
            queue_url=redis_url,
            detach=True,
        )
    error = lapsed.value
    assert isinstance(error, ConfigurationError)  # exit 2 on the command line
    assert error.details["queued"] == BATCH and error.details["broadcast_id"] == "stalled"
    text = str(error)
    assert "\n" not in text
    assert "lapsed" in text and f"after {BATCH} message(s)" in text and "--queue" in text
    password = redis_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in text
    # Nothing queued after the lapse, and every message queued carries the lease.
    payloads = queued_payloads(client)
    assert client.llen(QUEUE) == len(payloads) == BATCH
    assert all(payload.get("lease") == error.details["lease_key"] for payload in payloads)
    with Journal(journal_path, read_only=True) as journal:
        # The second batch was admitted, not queued: pending for a resume.
        assert journal.summary("stalled")[RecipientState.PENDING] == BATCH + 100
        mark = journal.queued_lease("stalled")
    if drained:
        assert mark is None and not client.exists(error.details["lease_key"])
    else:
        # The first batch still holds the lease: its mark stays until the workers are done.
        assert mark is not None
        assert int(client.get(error.details["lease_key"])) == BATCH


def test_the_command_stops_with_one_line_and_exit_2_when_its_share_lapsed(
    tmp_path: Path, redis_url: str, client: Any, script_env: dict[str, str]
) -> None:
    """The submitting process is stopped (SIGSTOP) once it holds the lease, its share
    lapses meanwhile, and it is continued."""
    config = tmp_path / "broadcastio.toml"
    config.write_text('[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n')
    recipients = 20 * BATCH  # enough that it is still queuing when it is stopped
    write_recipients(tmp_path / "people.csv", recipients)
    command = (
        str(SCRIPT), "broadcast", "--queue", redis_url, "--journal", "journal.sqlite",
        "--config", str(config), "--recipients", "people.csv", "--text", "hello",
        "--id", "stopped", "--detach",
    )  # fmt: skip
    submitter = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=script_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not client.llen(QUEUE):
            assert submitter.poll() is None, submitter.communicate()
            assert time.monotonic() < deadline, "the submitter never queued"
            time.sleep(0.005)
        os.kill(submitter.pid, signal.SIGSTOP)
        queued_when_stopped = client.llen(QUEUE)
        assert queued_when_stopped < recipients, "stopped too late: everything was queued"
        for share in share_keys(client):
            client.delete(share)
        os.kill(submitter.pid, signal.SIGCONT)
        stdout, stderr = submitter.communicate(timeout=120)
    finally:
        if submitter.poll() is None:
            os.kill(submitter.pid, signal.SIGCONT)
            submitter.kill()
            submitter.wait()
    assert submitter.returncode == 2, (stdout, stderr)
    # The line announcing the start, then one error line and nothing else.
    lines = [line for line in stderr.strip().splitlines() if "starting broadcast" not in line]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("broadcastio: error: broadcast stopped: its queue lease")
    assert "lapsed" in lines[0] and "resume it with --queue" in lines[0]
    # It says how many it queued, and stopped: at most the batch it was numbering when
    # it was stopped went out after (numbered, so counted: covered by the lease).
    queued = client.llen(QUEUE)
    assert f"after {queued} message(s)" in lines[0]
    assert queued_when_stopped <= queued <= queued_when_stopped + BATCH
    (count,) = [key for key in client.scan_iter("broadcastio:lease:*") if key.count(b":") == 2]
    assert int(client.get(count)) == queued

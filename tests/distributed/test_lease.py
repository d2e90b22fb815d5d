"""A detached broadcast's queued messages hold a lease: no resume sends those rows meanwhile.

``--detach`` returns (and lets go of the journal's claim) while the workers
still have the broadcast's messages. Until the last of them is done, a resume
of that id, local or through the queue, from the command line or from
Python, is refused (exit 2 on the command line) instead of sending the same
rows at the same time as the workers, on either journal: the lease's mark is
a file beside an SQLite journal and a ``queued_leases`` row in PostgreSQL. A
lease whose messages are gone (Redis flushed) is cleared by a resume through
the queue, which can see that. A message Dramatiq delivers twice (its worker
died between counting it done and acknowledging it) is counted once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until, write_recipients

from broadcastio.broadcast import Journal, RecipientState
from broadcastio.broadcast.journal.queued import QueuedLease

DUMMY_CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcastio.toml"
    path.write_text(DUMMY_CONFIG)
    return path


def journal_at(tmp_path: Path, journal_arg: str) -> str:
    """``journal_arg`` as this process names it (the CLI runs in ``tmp_path``)."""
    return journal_arg if "://" in journal_arg else str(tmp_path / journal_arg)


def states(journal: str, broadcast_id: str) -> dict[RecipientState, int]:
    with Journal(journal, read_only=True) as opened:
        return opened.summary(broadcast_id)


def mark(journal: str, broadcast_id: str) -> QueuedLease | None:
    """The lease's mark in the journal (a file, or a row), as any run sees it."""
    with Journal(journal, read_only=True) as opened:
        return opened.queued_lease(broadcast_id)


def leases(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("journal.sqlite.queued-*.lease"))


def assert_refused(done, broadcast_id: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"broadcastio: error: broadcast {broadcast_id} was queued")
    assert "still outstanding" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_resume_is_refused_while_the_workers_hold_the_messages(
    tmp_path: Path,
    redis_url: str,
    config: Path,
    processes: Processes,
    run_cli,
    journal_arg: str,
) -> None:
    """On each journal backend: a local resume and one through the queue are both refused."""
    from broadcastio.distributed import redact_url

    journal = journal_at(tmp_path, journal_arg)
    write_recipients(tmp_path / "people.csv", 30)
    common = (
        "--journal", journal_arg, "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "held", "--detach")
    assert detached.returncode == 0, detached.stderr
    held = mark(journal, "held")
    assert held is not None
    assert held.queue == redact_url(redis_url) and held.since and held.token
    # The mark is where the journal is: a file beside SQLite, nothing beside PostgreSQL.
    assert len(leases(tmp_path)) == (0 if "://" in journal_arg else 1)
    # No worker yet: all 30 messages are on the queue.
    local = run_cli("broadcast", *common, "--resume", "held")
    assert_refused(local, "held")
    assert "--queue" in local.stderr and "since" in local.stderr
    password = redis_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in local.stderr
    queued = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "held")
    assert_refused(queued, "held")
    assert "(30 message(s) outstanding, counted in Redis key broadcastio:lease:" in queued.stderr
    assert states(journal, "held")[RecipientState.PENDING] == 30  # nothing sent by either
    with Journal(journal, read_only=True) as opened:
        assert opened.info("held").runs == 1  # the refused resumes did not count as runs
    # Another broadcast of the same journal holds no lease of its own yet: not refused.
    other = run_cli("broadcast", "--queue", redis_url, *common, "--id", "other", "--detach")
    assert other.returncode == 0, other.stderr
    processes.worker(redis_url, config, journal=journal_arg)
    wait_until(
        lambda: mark(journal, "held") is None and mark(journal, "other") is None,
        60,
        "the workers to drain the queue and end both leases",
    )
    assert states(journal, "held")[RecipientState.DELIVERED] == 30
    assert not leases(tmp_path)
    again = run_cli("broadcast", *common, "--resume", "held", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_delivered"] == 30
    # No "postgresql:" folder either, which a URL taken for a path would have made.
    assert not [p for p in tmp_path.rglob("*") if "postgres" in p.name]


def test_a_lease_whose_messages_are_gone_is_cleared_by_a_resume_through_the_queue(
    tmp_path: Path,
    redis_url: str,
    config: Path,
    processes: Processes,
    run_cli,
    journal_arg: str,
) -> None:
    import redis

    journal = journal_at(tmp_path, journal_arg)
    write_recipients(tmp_path / "people.csv", 5)
    common = (
        "--journal", journal_arg, "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "lost", "--detach")
    assert detached.returncode == 0, detached.stderr
    redis.Redis.from_url(redis_url).flushall()  # the queued messages are lost
    # A local run cannot tell: it trusts the mark.
    assert_refused(run_cli("broadcast", *common, "--resume", "lost"), "lost")
    processes.worker(redis_url, config, journal=journal_arg)
    resumed = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "lost", "--json")
    assert resumed.returncode == 0, resumed.stderr + processes.output()
    assert json.loads(resumed.stdout)["delivered"] == 5
    wait_until(lambda: mark(journal, "lost") is None, 30, "the lease to end with its messages")


def test_broadcast_from_python_refuses_a_queued_broadcast_on_either_journal(
    tmp_path: Path,
    redis_url: str,
    config: Path,
    processes: Processes,
    journal_arg: str,
) -> None:
    """``broadcast()`` checks the lease like the command: same error class, nothing sent."""
    from broadcastio_dummy import DummyProvider

    from broadcastio import Message, Orchestrator
    from broadcastio.broadcast import broadcast
    from broadcastio.distributed import QueuedBroadcastBusy, submit_broadcast
    from broadcastio.errors import ConfigurationError

    journal = journal_at(tmp_path, journal_arg)
    messages = [Message(f"+1555{index:07d}", "hello") for index in range(5)]
    submitted = submit_broadcast(
        messages,
        journal=Journal(journal),
        broadcast_id="python",
        queue_url=redis_url,
        detach=True,
    )
    assert submitted.enqueued == 5
    # The journal by its path, and as an open Journal: refused either way, before any send.
    for given in (journal, Journal(journal)):
        with Orchestrator([DummyProvider()]) as orchestrator:
            with pytest.raises(QueuedBroadcastBusy) as refused:
                broadcast(orchestrator, messages, journal=given, broadcast_id="python")
        assert isinstance(refused.value, ConfigurationError)
        assert refused.value.field == "resume"
        assert "was queued for workers" in str(refused.value) and "--queue" in str(refused.value)
        if isinstance(given, Journal):
            given.close()
    assert states(journal, "python")[RecipientState.PENDING] == 5
    with Journal(journal, read_only=True) as opened:
        assert opened.info("python").runs == 1  # a refused resume is no run
    processes.worker(redis_url, config, journal=journal_arg)
    wait_until(lambda: mark(journal, "python") is None, 60, "the workers to end the lease")
    with Orchestrator([DummyProvider()]) as orchestrator:
        report = broadcast(orchestrator, messages, journal=journal, broadcast_id="python")
    assert report.already_delivered == 5 and report.delivered == 0


def test_a_message_delivered_twice_counts_once_in_the_lease(
    tmp_path: Path,
    redis_url: str,
    config: Path,
    processes: Processes,
    run_cli,
    journal_arg: str,
) -> None:
    """A worker killed between counting a message done and acknowledging it.

    Dramatiq then delivers the same message again, and the lease must not
    count it a second time: here recipient A's message is delivered twice
    (what Dramatiq's requeue of an unacknowledged message does: the same id
    and data back on the queue) while B's is held back. The lease must stay
    held for B: a local resume now would send B beside the worker.
    """
    import redis

    journal = journal_at(tmp_path, journal_arg)
    numbers = write_recipients(tmp_path / "people.csv", 2)
    common = (
        "--journal", journal_arg, "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "twice", "--detach")
    assert detached.returncode == 0, detached.stderr
    client = redis.Redis.from_url(redis_url)
    queue, stored = "dramatiq:broadcastio", "dramatiq:broadcastio.msgs"
    ids = client.lrange(queue, 0, -1)
    assert len(ids) == 2
    by_recipient = {
        json.loads(client.hget(stored, one))["args"][0]["task"]["message"]["recipient"]: one
        for one in ids
    }
    first, held_back = by_recipient[numbers[0]], by_recipient[numbers[1]]
    first_data = client.hget(stored, first)
    client.lrem(queue, 0, held_back)  # B waits outside the queue (its data stays)

    def row_state(number: str) -> RecipientState | None:
        with Journal(journal, read_only=True) as opened:
            row = opened.row("twice", number)
        return None if row is None else row.state

    def consumed(message_id: bytes) -> bool:
        # Acknowledged: gone from the stored messages and from the queue.
        return not client.hexists(stored, message_id) and message_id not in client.lrange(
            queue, 0, -1
        )

    processes.worker(redis_url, config, journal=journal_arg)
    wait_until(
        lambda: row_state(numbers[0]) is RecipientState.DELIVERED and consumed(first),
        60,
        "A delivered and acknowledged",
    )
    assert mark(journal, "twice") is not None  # B is still outstanding
    # Delivered again, as after a kill before the acknowledgement.
    client.hset(stored, first, first_data)
    client.rpush(queue, first)
    wait_until(lambda: consumed(first), 60, "A's second delivery to be acknowledged")
    assert mark(journal, "twice") is not None, "the lease ended with B still outstanding"
    assert_refused(run_cli("broadcast", *common, "--resume", "twice"), "twice")
    assert row_state(numbers[1]) is RecipientState.PENDING
    client.rpush(queue, held_back)  # B's turn
    wait_until(lambda: mark(journal, "twice") is None, 60, "B to end the lease")
    assert row_state(numbers[1]) is RecipientState.DELIVERED
    with Journal(journal, read_only=True) as opened:
        assert [row.attempts for row in opened.rows("twice")] == [1, 1]


@pytest.mark.parametrize("journal_arg", ["postgresql"], indirect=True)
def test_a_postgres_journal_made_before_the_lease_table_gets_it_on_open(
    journal_arg: str,
) -> None:
    """Databases this week's code made have no ``queued_leases``: a writable open adds it,
    a read-only one reads "no lease" without touching the database."""
    import psycopg

    with Journal(journal_arg) as journal:
        journal.begin_run("old")
    with psycopg.connect(journal_arg, autocommit=True) as admin:
        admin.execute("DROP TABLE queued_leases")
    with Journal(journal_arg, read_only=True) as journal:
        assert journal.queued_lease("old") is None
        journal.refuse_while_queued("old")  # nothing to refuse
    with psycopg.connect(journal_arg, autocommit=True) as admin:
        (found,) = admin.execute("SELECT to_regclass('queued_leases')").fetchone()
        assert found is None
    lease = QueuedLease(
        broadcast_id="old", queue="redis://:***@queue.example:6379/0", since="T", token="t1"
    )
    with Journal(journal_arg) as journal:
        journal.hold_queued_lease(lease)
    with Journal(journal_arg, read_only=True) as journal:
        found_lease = journal.queued_lease("old")
    assert found_lease is not None
    assert (found_lease.queue, found_lease.since, found_lease.token) == (lease.queue, "T", "t1")
    assert "queued_leases" in found_lease.where

"""The journal's mark names the lease it stands for: its queue and its Redis key.

A submission through the queue used to check only its own Redis key and take
any mark it found beside it for stale. A mark left by a submission on another
queue, or by one that named the same PostgreSQL journal by another spelling
of its URL (another key), was then replaced while its messages were still
outstanding, and the new lease's end removed it: a local resume could then
send their rows beside the workers. Now the mark keeps the count's key: a
mark naming another key on the same queue is checked there, and one naming
another queue, which this one cannot look into, is refused.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed_helpers import write_recipients

from broadcastio import Message
from broadcastio.broadcast import Journal
from broadcastio.broadcast.journal.queued import QueuedLease
from broadcastio.distributed import QueuedBroadcastBusy, redact_url, submit_broadcast
from broadcastio.distributed.lease import message_done

DUMMY_CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n'
STORED = "dramatiq:broadcastio.msgs"


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        connection.close()


def journal_at(tmp_path: Path, journal_arg: str) -> str:
    return journal_arg if "://" in journal_arg else str(tmp_path / journal_arg)


def mark(journal: str, broadcast_id: str) -> QueuedLease | None:
    with Journal(journal, read_only=True) as opened:
        return opened.queued_lease(broadcast_id)


def other_database(redis_url: str) -> str:
    """The same Redis server, another database: another queue."""
    base, _, database = redis_url.rstrip("/").rpartition("/")
    assert database.isdigit(), redis_url
    return f"{base}/{int(database) + 1}"


def submit(journal: str, queue_url: str, broadcast_id: str, messages: int) -> None:
    submit_broadcast(
        [Message(f"+1555{index:07d}", "hello") for index in range(messages)],
        journal=Journal(journal),
        broadcast_id=broadcast_id,
        queue_url=queue_url,
        detach=True,
    )


def test_a_resume_through_another_queue_is_refused_while_the_first_one_holds_the_lease(
    tmp_path: Path,
    redis_url: str,
    client: Any,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
    journal_arg: str,
) -> None:
    """On each journal: the second queue cannot see the first's count, so it refuses, exit 2,
    naming the first queue (its password hidden), and the mark stays the first one's."""
    journal = journal_at(tmp_path, journal_arg)
    (tmp_path / "broadcastio.toml").write_text(DUMMY_CONFIG)
    write_recipients(tmp_path / "people.csv", 5)
    common = (
        "--journal", journal_arg, "--config", "broadcastio.toml", "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "split", "--detach")
    assert detached.returncode == 0, detached.stderr
    first = mark(journal, "split")
    assert first is not None and first.key.startswith("broadcastio:lease:")
    assert first.queue == redact_url(redis_url)
    second_queue = other_database(redis_url)
    refused = run_cli("broadcast", "--queue", second_queue, *common, "--resume", "split")
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert lines[0].startswith(
        f"broadcastio: error: broadcast split was queued for workers on {first.queue}"
    )
    assert f"not on {redact_url(second_queue)}" in lines[0] and "remove the mark" in lines[0]
    password = redis_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in refused.stderr
    assert mark(journal, "split") == first
    assert int(client.get(first.key)) == 5  # nothing of the first lease was touched


@pytest.mark.parametrize("journal_arg", ["postgresql"], indirect=True)
def test_another_spelling_of_the_journal_url_checks_the_lease_the_mark_names(
    redis_url: str, client: Any, journal_arg: str
) -> None:
    """Two spellings of one database are two lease keys on one queue; the mark says which
    one counts the messages, and that one is checked."""
    other_spelling = journal_arg + "?connect_timeout=10"
    submit(journal_arg, redis_url, "spelled", 5)
    first = mark(journal_arg, "spelled")
    assert first is not None
    with pytest.raises(QueuedBroadcastBusy) as refused:
        submit(other_spelling, redis_url, "spelled", 5)
    assert f"(5 message(s) outstanding, counted in Redis key {first.key})" in str(refused.value)
    assert mark(journal_arg, "spelled") == first
    # The workers finish the first submission's messages: its lease ends with its mark.
    with Journal(journal_arg) as worker_journal:
        for data in client.hvals(STORED):
            message_done(client, json.loads(data)["args"][0], worker_journal)
    assert mark(journal_arg, "spelled") is None
    submit(other_spelling, redis_url, "spelled", 5)
    second = mark(journal_arg, "spelled")
    assert second is not None and second.key != first.key and second.token != first.token


def test_a_stale_mark_of_another_key_on_the_same_queue_is_replaced_and_its_keys_cleared(
    tmp_path: Path, redis_url: str, client: Any
) -> None:
    """A mark whose key holds nothing (the messages lost) no longer stands for a lease."""
    journal = str(tmp_path / "journal.sqlite")
    submit(journal, redis_url, "lost", 3)
    first = mark(journal, "lost")
    assert first is not None
    stale = QueuedLease(
        broadcast_id="lost",
        queue=first.queue,
        since=first.since,
        token="an older submission",
        key="broadcastio:lease:0000000000",
    )
    assert first.key
    for key in client.scan_iter(f"{first.key}*"):  # the first submission's messages are lost
        client.delete(key)
    client.set(f"{stale.key}:token", stale.token)  # what is left of it: no count, no share
    with Journal(journal) as opened:
        opened.hold_queued_lease(stale)
    submit(journal, redis_url, "lost", 3)
    replaced = mark(journal, "lost")
    assert replaced is not None and replaced.key == first.key and replaced.token != stale.token
    assert not client.exists(f"{stale.key}:token")


@pytest.mark.parametrize("journal_arg", ["postgresql"], indirect=True)
def test_a_lease_table_made_without_the_key_column_gets_it_on_a_writable_open(
    journal_arg: str,
) -> None:
    """``queued_leases`` as made earlier the same day: read as marks without a key by a
    read-only session, given the column by the first writable open."""
    import psycopg

    lease = QueuedLease(
        broadcast_id="old", queue="redis://:***@queue.example:6379/0", since="T", token="t1"
    )
    with Journal(journal_arg) as journal:
        journal.hold_queued_lease(lease)
    with psycopg.connect(journal_arg, autocommit=True) as admin:
        admin.execute("ALTER TABLE queued_leases DROP COLUMN lease_key")
    with Journal(journal_arg, read_only=True) as journal:
        found = journal.queued_lease("old")
    assert found is not None and (found.token, found.key) == ("t1", "")
    keyed = QueuedLease(
        broadcast_id="old", queue=lease.queue, since="T", token="t2", key="broadcastio:lease:k"
    )
    with Journal(journal_arg) as journal:
        journal.hold_queued_lease(keyed)
    with Journal(journal_arg, read_only=True) as journal:
        found = journal.queued_lease("old")
    assert found is not None and (found.token, found.key) == ("t2", "broadcastio:lease:k")


@pytest.mark.parametrize("journal_arg", ["postgresql"], indirect=True)
@pytest.mark.parametrize("missing", ["table", "column"])
def test_a_role_that_may_not_create_the_lease_table_still_opens_the_journal(
    journal_arg: str, missing: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker's role without CREATE opens a journal made before ``queued_leases`` (or its
    key column), with a warning; ending leases works; marking one is refused, saying why."""
    import psycopg

    from broadcastio.broadcast.journal.errors import JournalError

    with Journal(journal_arg) as journal:
        journal.begin_run("old")
    database = journal_arg.rsplit("/", 1)[1]
    role = f"worker_{database}"  # roles are the server's: one per test database
    with psycopg.connect(journal_arg, autocommit=True) as admin:
        if missing == "table":
            admin.execute("DROP TABLE queued_leases")
        else:
            admin.execute("ALTER TABLE queued_leases DROP COLUMN lease_key")
        admin.execute(f"DROP ROLE IF EXISTS {role}")
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'worker-secret'")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # this database's only
        admin.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        admin.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    _, _, place = journal_arg.partition("@")
    as_worker = f"postgresql://{role}:worker-secret@{place}"
    try:
        with caplog.at_level("WARNING", logger="broadcastio"):
            with Journal(as_worker) as journal:
                assert journal.queued_lease("old") is None
                journal.end_queued_lease("old", token="t1")  # what a worker does
                with pytest.raises(JournalError) as refused:
                    journal.hold_queued_lease(
                        QueuedLease(broadcast_id="old", queue="q", since="T", token="t1")
                    )
        assert "may not" in str(refused.value) and "queued" in str(refused.value)
        assert any("Workers run without it" in record.getMessage() for record in caplog.records)
    finally:
        with psycopg.connect(journal_arg, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")

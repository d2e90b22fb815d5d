"""The journal's environment failing: each is a ``JournalError`` naming the file, never a crash."""

from __future__ import annotations

import datetime
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import Orchestrator
from broadcastio.broadcast import (
    BroadcastReport,
    Journal,
    JournalError,
    JournalProblem,
    RecipientOutcome,
    broadcast,
)
from broadcastio_dummy import DummyProvider


def test_a_read_only_journal_never_writes_its_file(journal_path: Path) -> None:
    broadcast(Orchestrator([DummyProvider()]), make_messages(30), journal=journal_path,
              broadcast_id="b")  # fmt: skip
    digest = hashlib.sha256(journal_path.read_bytes()).hexdigest()
    with Journal(journal_path, read_only=True) as journal:
        assert journal.read_only
        assert journal.summary("b")
        assert len(list(journal.rows("b"))) == 30
        with pytest.raises(JournalError) as refused:
            journal.begin_run("c")
        assert refused.value.problem is JournalProblem.READ_ONLY
        with pytest.raises(JournalError) as refused_write:
            journal.end_run(broadcast_report("b"))
        assert refused_write.value.problem is JournalProblem.READ_ONLY
    assert hashlib.sha256(journal_path.read_bytes()).hexdigest() == digest
    assert sorted(path.name for path in journal_path.parent.iterdir() if "lock" in path.name) == []


def broadcast_report(broadcast_id: str) -> BroadcastReport:
    now = datetime.datetime.now(datetime.timezone.utc)
    return BroadcastReport(
        broadcast_id=broadcast_id, run=1, started_at=now, finished_at=now, elapsed_seconds=0.0
    )


def test_read_only_wants_an_existing_journal(journal_path: Path) -> None:
    with pytest.raises(JournalError, match="does not exist") as missing:
        Journal(journal_path, read_only=True)
    assert missing.value.problem is JournalProblem.MISSING
    assert not journal_path.exists()


def test_a_write_lock_held_past_the_wait_is_busy(journal_path: Path) -> None:
    Journal(journal_path).close()
    holder = sqlite3.connect(journal_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
        with pytest.raises(JournalError) as busy:
            # Opening for writing proves the file writable, so it meets the lock at once.
            Journal(journal_path, busy_timeout=0.05)
        assert busy.value.problem is JournalProblem.BUSY
        assert str(journal_path) in busy.value.message
    finally:
        holder.close()


@pytest.mark.parametrize("value", [-1, float("nan"), "5", 10**9])
def test_busy_timeout_is_checked(journal_path: Path, value: object) -> None:
    with pytest.raises(ValueError, match="busy_timeout"):
        Journal(journal_path, busy_timeout=value)  # type: ignore[arg-type]


def test_a_journal_deleted_during_the_run_stops_it(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    path = directory / "journal.sqlite"
    provider = DummyProvider()
    seen: list[RecipientOutcome] = []

    def delete_after_ten(outcome: RecipientOutcome) -> None:
        seen.append(outcome)
        if len(seen) == 10:
            shutil.rmtree(directory)  # a clean-up job removing the state directory

    with pytest.raises(JournalError) as gone:
        broadcast(
            Orchestrator([provider]),
            make_messages(200),
            concurrency=2,
            journal=path,
            broadcast_id="b",
            on_result=delete_after_ten,
        )
    assert gone.value.problem is JournalProblem.GONE
    assert str(path) in gone.value.message
    # It stopped at the next batch: far from all 200 were sent.
    assert 10 <= len(provider.sent) < 200

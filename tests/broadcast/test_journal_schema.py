"""Journal schema versions: a version 1 file is read as it is, migrated when written, kept whole.

Every test starts from a real version 1 file built with version 1's own DDL
(``journal_v1``), never from a file the current code wrote.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from journal_v1 import V1_COLUMNS, V1Row, write_v1_journal

from broadcastio import (
    Contact,
    DeliveryResult,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
    ValidationError,
)
from broadcastio.broadcast import (
    JOURNAL_COLUMNS,
    Journal,
    JournalError,
    JournalProblem,
    RecipientState,
    broadcast,
)
from broadcastio.broadcast.journal import SCHEMA_VERSION, sql

BROADCAST = "spring"
# What a version 1 journal held: two contacts (an id, and addresses only) and a plain recipient.
V1_ROWS = [
    V1Row('{"id":"p0"}', "delivered", provider="whatsapp"),
    V1Row('{"id":"p1"}', "pending"),
    V1Row('{"email":"p2@example.com"}', "delivered", provider="email"),
    V1Row("+15550000003", "failed", provider="whatsapp", error_code="PROVIDER_UNAVAILABLE"),
]
V2_COLUMNS = (*V1_COLUMNS, "contact_id", "addresses", "address_kind", "address")


class Channel(MessageProvider):
    """Delivers to the address of its kind and records it."""

    def __init__(self, name: str, address_kind: str | None) -> None:
        self.name = name  # type: ignore[misc]
        self.address_kind = address_kind  # type: ignore[misc]
        self.sent: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        assert isinstance(message.recipient, str)
        self.sent.append(message.recipient)
        return DeliveryResult.delivered(self.name, f"{self.name}-{len(self.sent)}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored_version_and_columns(path: Path) -> tuple[int, tuple[str, ...]]:
    """The file's user_version and recipients columns, read without broadcastio."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        columns = tuple(
            name
            for (name,) in connection.execute("SELECT name FROM pragma_table_info('recipients')")
        )
    finally:
        connection.close()
    return version, columns


@pytest.fixture
def v1_journal(journal_path: Path) -> Path:
    write_v1_journal(journal_path, BROADCAST, V1_ROWS)
    return journal_path


def test_the_current_schema_is_version_3() -> None:
    assert SCHEMA_VERSION == 3
    # Version 3 added a table (receipts); the recipients columns are version 2's.
    assert sql.TABLE_COLUMNS["recipients"] == V2_COLUMNS
    assert set(sql.TABLE_COLUMNS) == {"broadcasts", "recipients", "receipts"}


def test_a_v1_journal_is_read_only_as_it_is(v1_journal: Path) -> None:
    before = file_digest(v1_journal)
    with Journal(v1_journal, read_only=True) as journal:
        assert journal.schema_version == 1
        rows = {row.recipient: row for row in journal.rows(BROADCAST)}
        assert set(rows) == {row.recipient for row in V1_ROWS}
        assert rows['{"id":"p0"}'].state is RecipientState.DELIVERED
        assert rows['{"id":"p0"}'].provider == "whatsapp"
        # What version 1 never stored reads as missing, not as made up.
        for row in rows.values():
            assert (row.contact_id, row.addresses, row.address_kind, row.address) == (None,) * 4
            assert row.contact is None
        assert journal.row(BROADCAST, "+15550000003").error_code == "PROVIDER_UNAVAILABLE"
        assert journal.summary(BROADCAST)[RecipientState.DELIVERED] == 2
        with open(v1_journal.with_name("out.csv"), "w", newline="") as out:
            assert journal.export_csv(BROADCAST, out) == 4
        with pytest.raises(JournalError) as refused:
            journal.begin_run(BROADCAST)
        assert refused.value.problem is JournalProblem.READ_ONLY
    header = v1_journal.with_name("out.csv").read_text().splitlines()[0]
    assert header.split(",") == list(JOURNAL_COLUMNS)
    assert file_digest(v1_journal) == before
    assert stored_version_and_columns(v1_journal) == (1, V1_COLUMNS)


def test_opening_a_v1_journal_for_writing_migrates_it_keeping_every_row(v1_journal: Path) -> None:
    with Journal(v1_journal, read_only=True) as journal:
        before = [row.to_dict() for row in journal.rows(BROADCAST)]
    with Journal(v1_journal) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        after = [row.to_dict() for row in journal.rows(BROADCAST)]
    assert after == before
    assert stored_version_and_columns(v1_journal) == (SCHEMA_VERSION, V2_COLUMNS)
    # Opening it again finds version 2 and changes nothing.
    with Journal(v1_journal) as journal:
        assert [row.to_dict() for row in journal.rows(BROADCAST)] == before


def test_a_resume_of_a_v1_broadcast_sends_each_person_at_most_once(v1_journal: Path) -> None:
    phone, mail = Channel("whatsapp", "phone"), Channel("email", "email")
    orchestrator = Orchestrator([phone, mail], retry_policy=RetryPolicy(max_attempts=1))
    p1 = Contact({"phone": "+15550000001"}, id="p1")
    p4 = Contact({"phone": "+15550000004", "email": "p4@example.com"}, id="p4")
    people = [
        Contact({"phone": "+15550000000", "email": "p0@example.com"}, id="p0"),
        p1,
        Contact({"email": "p2@example.com"}),
        "+15550000003",
        p4,
    ]
    report = broadcast(
        orchestrator,
        [Message(person, "hi") for person in people],
        journal=v1_journal,
        broadcast_id=BROADCAST,
    )
    # p0 and the id-less contact were delivered by version 1, +3 failed (not retried).
    assert (report.already_delivered, report.not_retried, report.delivered) == (2, 1, 2)
    assert phone.sent == ["+15550000001", "+15550000004"] and mail.sent == []
    with Journal(v1_journal, read_only=True) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        assert journal.row(BROADCAST, p1).contact == p1
        assert journal.row(BROADCAST, p4).address == "+15550000004"
        # A row version 1 delivered keeps what version 1 knew: its key.
        delivered_before = journal.row(BROADCAST, '{"id":"p0"}')
        assert delivered_before.state is RecipientState.DELIVERED
        assert delivered_before.contact is None and delivered_before.provider == "whatsapp"


@pytest.mark.parametrize("read_only", [True, False])
def test_a_journal_of_a_newer_schema_is_refused_unchanged(
    journal_path: Path, read_only: bool
) -> None:
    write_v1_journal(journal_path, BROADCAST, V1_ROWS, version=SCHEMA_VERSION + 1)
    before = file_digest(journal_path)
    with pytest.raises(JournalError) as refused:
        Journal(journal_path, read_only=read_only)
    assert refused.value.problem is JournalProblem.NEWER_SCHEMA
    assert f"schema version {SCHEMA_VERSION + 1}" in str(refused.value)
    assert "upgrade broadcastio" in str(refused.value)
    assert file_digest(journal_path) == before


def test_a_migration_that_fails_part_way_leaves_version_1_whole(
    v1_journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Journal(v1_journal, read_only=True) as journal:
        before = [row.to_dict() for row in journal.rows(BROADCAST)]
    # The last column added a second time: SQLite refuses it after the others went in.
    failing = (*sql.MIGRATE_TO_V2[:-1], sql.MIGRATE_TO_V2[-2], sql.MIGRATE_TO_V2[-1])
    monkeypatch.setattr(sql, "MIGRATE_TO_V2", failing)
    with pytest.raises(ValidationError):
        Journal(v1_journal)
    assert stored_version_and_columns(v1_journal) == (1, V1_COLUMNS)
    with Journal(v1_journal, read_only=True) as journal:
        assert [row.to_dict() for row in journal.rows(BROADCAST)] == before
    monkeypatch.undo()
    with Journal(v1_journal) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        assert [row.to_dict() for row in journal.rows(BROADCAST)] == before


# Opens a version 1 journal for writing, and stops inside the migration's
# transaction (after every column was added, before the version is set) until
# it is killed.
_KILLED_CHILD = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from broadcastio.broadcast import Journal
    from broadcastio.broadcast.journal import sql

    journal, marker = sys.argv[1], Path(sys.argv[2])
    real = sql.MIGRATE_TO_V2


    def statements():
        yield from real[:-1]
        marker.write_text("columns added")
        time.sleep(600)
        yield from real[-1:]


    sql.MIGRATE_TO_V2 = statements()
    Journal(journal)
    """
)


def test_a_migration_killed_part_way_leaves_a_valid_v1_journal(
    v1_journal: Path, tmp_path: Path
) -> None:
    with Journal(v1_journal, read_only=True) as journal:
        before = [row.to_dict() for row in journal.rows(BROADCAST)]
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, str(v1_journal), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the child ended before reaching the migration"
            assert time.monotonic() < deadline, "the child never reached the migration"
            time.sleep(0.05)
        # The columns are added, inside a transaction that holds the write lock.
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    with Journal(v1_journal, read_only=True) as journal:
        assert journal.schema_version == 1
        assert [row.to_dict() for row in journal.rows(BROADCAST)] == before
    assert stored_version_and_columns(v1_journal) == (1, V1_COLUMNS)
    with Journal(v1_journal) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        assert [row.to_dict() for row in journal.rows(BROADCAST)] == before


def test_a_migration_keeps_the_file_its_inode_and_its_permissions(v1_journal: Path) -> None:
    os.chmod(v1_journal, 0o600)
    inode = v1_journal.stat().st_ino
    with Journal(v1_journal) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        journal.begin_run(BROADCAST)
        # SQLite gives the files next to the journal the journal's own mode.
        assert stat.S_IMODE(v1_journal.with_name(v1_journal.name + "-wal").stat().st_mode) == 0o600
    assert v1_journal.stat().st_ino == inode
    assert stat.S_IMODE(v1_journal.stat().st_mode) == 0o600


def test_a_journal_another_process_migrated_meanwhile_is_not_migrated_twice(
    v1_journal: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two openers of one v1 file: the second looks (version 1), waits for the lock, finds 2.

    It then takes the file on from version 2 only (version 1's step is not run twice).
    """
    holder = sqlite3.connect(v1_journal, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the other process, about to migrate
    waiting = threading.Event()
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)
        # Fires when the opener asks for the write lock, after it read version 1.
        connection.set_trace_callback(
            lambda statement: waiting.set() if statement == "BEGIN IMMEDIATE" else None
        )
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    opened: list[int] = []
    failed: list[BaseException] = []

    def open_journal() -> None:
        try:
            with Journal(v1_journal) as journal:
                opened.append(journal.schema_version)
        except BaseException as error:  # reported by the assertion below
            failed.append(error)

    opener = threading.Thread(target=open_journal)
    opener.start()
    try:
        assert waiting.wait(60), "the opener never asked for the write lock"
        for statement in sql.MIGRATE_TO_V2:
            holder.execute(statement)
        holder.execute("COMMIT")
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        opener.join(60)
        holder.close()
    assert failed == [] and opened == [SCHEMA_VERSION]
    assert stored_version_and_columns(v1_journal) == (SCHEMA_VERSION, V2_COLUMNS)

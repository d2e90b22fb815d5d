"""A damaged journal is refused before a resume trusts it, and reading one never crashes.

The damage is real: bytes of a real journal file overwritten at page offsets,
as a failing disk or a stray write would leave it. Before the integrity check,
one such page made a resume send recipients the journal had as delivered.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from broadcastio import Message, Orchestrator, ValidationError
from broadcastio.broadcast import Journal, JournalError, JournalProblem, broadcast
from broadcastio_dummy import DummyProvider

BROADCAST = "reminders"
RECIPIENTS = 300


def messages() -> Iterator[Message]:
    for number in range(RECIPIENTS):
        yield Message(f"+1555{number:07d}", f"Your appointment is at {number % 12 + 1} pm")


@pytest.fixture(scope="module")
def delivered_journal(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a journal where every recipient of BROADCAST is delivered (checkpointed)."""
    path = tmp_path_factory.mktemp("template") / "journal.sqlite"
    report = broadcast(
        Orchestrator([DummyProvider()]), messages(), journal=path, broadcast_id=BROADCAST
    )
    assert report.delivered == RECIPIENTS
    return path.read_bytes()  # the last connection closed: the WAL is in the main file


def page_size(data: bytes) -> int:
    size = int.from_bytes(data[16:18], "big")
    return 65536 if size == 1 else size


def leaf_pages(path: Path) -> list[int]:
    """The page numbers of the recipients table's leaf pages (from SQLite's own dbstat)."""
    with sqlite3.connect(path) as connection:
        try:
            found = connection.execute(
                "SELECT pageno FROM dbstat WHERE name = 'recipients' AND pagetype = 'leaf'"
            ).fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat virtual table")
    return [pageno for (pageno,) in found]


def resume(path: Path) -> tuple[BaseException | None, list[str]]:
    provider = DummyProvider()
    try:
        broadcast(Orchestrator([provider]), messages(), journal=path, broadcast_id=BROADCAST)
    except (JournalError, ValidationError) as error:
        return error, [message.recipient for message in provider.sent]
    return None, [message.recipient for message in provider.sent]


def test_a_damaged_page_makes_the_resume_refuse_and_send_nothing(
    delivered_journal: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(delivered_journal)
    size = page_size(delivered_journal)
    damaged = bytearray(delivered_journal)
    page = leaf_pages(path)[len(leaf_pages(path)) // 2]
    start = (page - 1) * size + 8  # keep the page header: the cells are what is garbled
    damaged[start : start + 200] = random.Random(page).randbytes(200)
    path.write_bytes(bytes(damaged))

    error, sent = resume(path)
    assert isinstance(error, JournalError), error
    assert error.problem is JournalProblem.DAMAGED
    assert str(path) in error.message and "start a new broadcast id" in error.message
    assert sent == []


def test_a_damaged_index_cannot_make_a_known_broadcast_look_new(
    delivered_journal: bytes, tmp_path: Path
) -> None:
    """The index on broadcast ids, damaged so that looking the id up finds nothing.

    The resume then looked like a new broadcast, skipped the resume's check,
    and sent all 300 recipients again.
    """
    path = tmp_path / "journal.sqlite"
    path.write_bytes(delivered_journal)
    with sqlite3.connect(path) as connection:
        (page,) = connection.execute(
            "SELECT pageno FROM dbstat WHERE name = 'sqlite_autoindex_broadcasts_1'"
        ).fetchone()
    connection.close()
    damaged = bytearray(delivered_journal)
    damaged[(page - 1) * page_size(delivered_journal) + 9] = 0  # the first cell's pointer
    path.write_bytes(bytes(damaged))
    with sqlite3.connect(path) as connection:
        assert (
            connection.execute(
                "SELECT key FROM broadcasts WHERE broadcast_id = ?", (BROADCAST,)
            ).fetchone()
            is None
        ), "the damage should hide the broadcast from its index"
    connection.close()

    error, sent = resume(path)
    assert isinstance(error, JournalError) and error.problem is JournalProblem.DAMAGED
    assert sent == []


@pytest.mark.parametrize(
    ("original", "damaged"),
    # last_report: a column name the schema holds once (updated_at is in two tables since v3).
    [(b"last_report", b"lastXreport"), (b"CREATE TABLE broadcasts", b"CREATE TABL\x8e broadcasts")],
    ids=["renamed-column", "not-utf8"],
)
def test_a_damaged_schema_is_damage_not_a_crash(
    delivered_journal: bytes, tmp_path: Path, original: bytes, damaged: bytes
) -> None:
    """The schema is text on the first page; damage there made every statement fail oddly.

    A renamed column gave "no such column" (taken for a bug, exit 3); a byte
    that is not UTF-8 made SQLite's own error message undecodable.
    """
    size = page_size(delivered_journal)
    first_page = delivered_journal[:size]
    assert first_page.count(original) == 1
    path = tmp_path / "journal.sqlite"
    path.write_bytes(first_page.replace(original, damaged) + delivered_journal[size:])
    error, sent = resume(path)
    assert isinstance(error, JournalError) and error.problem is JournalProblem.DAMAGED
    assert sent == []


@seed(20261201)  # reproducible; the sweep behind it covered thousands of random damages
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_whatever_a_page_holds_a_resume_sends_no_delivered_recipient_again(
    delivered_journal: bytes, data: st.DataObject
) -> None:
    size = page_size(delivered_journal)
    pages = len(delivered_journal) // size
    page = data.draw(st.integers(min_value=2, max_value=pages), label="page")  # 1 is the header
    length = data.draw(st.sampled_from([1, 4, 16, 128, size]), label="length")
    offset = data.draw(st.integers(min_value=0, max_value=size - length), label="offset")
    garbage = data.draw(st.binary(min_size=length, max_size=length), label="bytes")
    damaged = bytearray(delivered_journal)
    start = (page - 1) * size + offset
    damaged[start : start + length] = garbage
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.sqlite"
        path.write_bytes(bytes(damaged))
        error, sent = resume(path)
    # Every recipient was delivered: a resume that sends anyone sends them twice.
    assert sent == [], (error, page, offset, length)
    if isinstance(error, JournalError):
        assert error.problem is JournalProblem.DAMAGED


def test_reading_a_damaged_journal_is_a_journal_error(
    delivered_journal: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(delivered_journal)
    size = page_size(delivered_journal)
    damaged = bytearray(delivered_journal)
    for page in leaf_pages(path):
        start = (page - 1) * size
        damaged[start : start + size] = random.Random(page).randbytes(size)
    path.write_bytes(bytes(damaged))
    with Journal(path, read_only=True) as journal:
        with pytest.raises(JournalError) as caught:
            list(journal.rows(BROADCAST))
        assert caught.value.problem is JournalProblem.DAMAGED
        with pytest.raises(JournalError):
            journal.summary(BROADCAST)

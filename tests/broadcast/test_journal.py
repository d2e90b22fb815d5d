"""The journal: states and transitions, dedupe, inspection API, and bad files."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest
from broadcast_support import make_messages, recipient

from broadcastio import DeliveryResult, ErrorCode, Message, ValidationError
from broadcastio.broadcast import (
    JOURNAL_COLUMNS,
    Journal,
    RecipientState,
    RecipientTask,
)

BROADCAST = "spring-sale"


def admitted_task(journal: Journal, run: int, index: int, message: Message) -> RecipientTask:
    (admission,) = journal.admit(BROADCAST, run, [(index, message)])
    return RecipientTask(BROADCAST, run, index, message, admission.previous, admission.attempts)


def test_a_recipient_goes_pending_in_flight_delivered(journal_url: str) -> None:
    message = Message(recipient(1), "hello")
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        task = admitted_task(journal, run, 0, message)
        assert journal.row(BROADCAST, message.recipient).state is RecipientState.PENDING

        assert journal.mark_in_flight([task]) == [True]
        row = journal.row(BROADCAST, message.recipient)
        assert row.state is RecipientState.IN_FLIGHT and row.attempts == 1
        assert row.sent_at is not None and row.completed_at is None

        result = DeliveryResult(True, "dummy", "id-1", providers_tried=("dummy",))
        journal.record_outcome(task, RecipientState.DELIVERED, result)
        row = journal.row(BROADCAST, message.recipient)
    assert row.state is RecipientState.DELIVERED
    assert (row.provider, row.message_id, row.error_code) == ("dummy", "id-1", None)
    assert row.completed_at is not None and row.position == 0 and row.run == 1


def test_a_failure_keeps_the_last_provider_and_its_error(journal_url: str) -> None:
    message = Message(recipient(1), "hello")
    failed = DeliveryResult.failed("whatsapp", ErrorCode.INVALID_RECIPIENT, "not on WhatsApp")
    failed = DeliveryResult(False, None, None, failed.error, ("sms", "whatsapp"))
    with Journal(journal_url) as journal:
        task = admitted_task(journal, journal.begin_run(BROADCAST), 0, message)
        journal.mark_in_flight([task])
        journal.record_outcome(task, RecipientState.FAILED, failed)
        row = journal.row(BROADCAST, message.recipient)
    assert row.state is RecipientState.FAILED
    assert row.provider == "whatsapp"
    assert row.error_code is ErrorCode.INVALID_RECIPIENT
    assert row.error_message == "not on WhatsApp"


def test_a_recipient_read_twice_in_one_run_is_a_duplicate(journal_url: str) -> None:
    first, second = Message(recipient(1), "a"), Message(recipient(2), "b")
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        admissions = journal.admit(BROADCAST, run, [(0, first), (1, second), (2, first)])
        later = journal.admit(BROADCAST, run, [(3, second)])
    assert [a.duplicate for a in admissions] == [False, False, True]
    assert later[0].duplicate


def test_the_next_run_sees_what_earlier_runs_left(journal_url: str) -> None:
    message = Message(recipient(1), "hello")
    with Journal(journal_url) as journal:
        task = admitted_task(journal, journal.begin_run(BROADCAST), 0, message)
        journal.mark_in_flight([task])
        second_run = journal.begin_run(BROADCAST)
        (admission,) = journal.admit(BROADCAST, second_run, [(0, message)])
    assert second_run == 2
    assert admission.previous is RecipientState.IN_FLIGHT
    assert admission.attempts == 1 and not admission.duplicate


def test_a_delivered_row_is_not_claimed_again(journal_url: str) -> None:
    message = Message(recipient(1), "hello")
    with Journal(journal_url) as journal:
        task = admitted_task(journal, journal.begin_run(BROADCAST), 0, message)
        journal.mark_in_flight([task])
        journal.record_outcome(task, RecipientState.DELIVERED, DeliveryResult(True, "d", "1"))
        assert journal.mark_in_flight([task]) == [False]
        assert journal.row(BROADCAST, message.recipient).attempts == 1


def test_release_puts_an_unsent_claim_back(journal_url: str) -> None:
    message = Message(recipient(1), "hello")
    with Journal(journal_url) as journal:
        task = admitted_task(journal, journal.begin_run(BROADCAST), 0, message)
        journal.mark_in_flight([task])
        journal.release([task])
        row = journal.row(BROADCAST, message.recipient)
    assert row.state is RecipientState.PENDING and row.attempts == 0


def test_a_task_from_elsewhere_is_journaled_when_claimed(journal_url: str) -> None:
    message = Message(recipient(7), "hello")
    task = RecipientTask(BROADCAST, 1, 42, message)
    with Journal(journal_url) as journal:
        assert journal.mark_in_flight([task]) == [True]
        row = journal.row(BROADCAST, message.recipient)
    assert row.state is RecipientState.IN_FLIGHT and row.position == 42


def test_different_content_under_the_same_broadcast_id_is_refused(journal_url: str) -> None:
    with Journal(journal_url) as journal:
        journal.admit(BROADCAST, journal.begin_run(BROADCAST), [(0, Message(recipient(1), "a"))])
        run = journal.begin_run(BROADCAST)
        new = Message(recipient(2), "b")
        changed = Message(recipient(1), "changed")
        with pytest.raises(ValidationError, match=r"\+15550000001.*input index 1.*differs"):
            journal.admit(BROADCAST, run, [(0, new), (1, changed)])
        # The batch is all or nothing: the new recipient was not recorded either.
        assert journal.row(BROADCAST, new.recipient) is None


def test_big_batches_are_split_into_statements(journal_url: str) -> None:
    messages = make_messages(1234)
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        admissions = journal.admit(BROADCAST, run, list(enumerate(messages + messages[:3])))
        assert [a.duplicate for a in admissions].count(True) == 3
        assert journal.summary(BROADCAST)[RecipientState.PENDING] == 1234


def test_inspection_api(journal_url: str) -> None:
    messages = make_messages(1200)
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        journal.admit(BROADCAST, run, list(enumerate(messages)))
        tasks = [RecipientTask(BROADCAST, run, n, m) for n, m in enumerate(messages[:5])]
        journal.mark_in_flight(tasks)
        journal.begin_run("other")

        assert [info.broadcast_id for info in journal.broadcasts()] == [BROADCAST, "other"]
        assert journal.info(BROADCAST).runs == 1
        assert journal.info(BROADCAST).last_report is None
        summary = journal.summary(BROADCAST)
        assert summary == {
            RecipientState.PENDING: 1195,
            RecipientState.IN_FLIGHT: 5,
            RecipientState.DELIVERED: 0,
            RecipientState.FAILED: 0,
            RecipientState.AMBIGUOUS: 0,
        }
        rows = journal.rows(BROADCAST)
        assert iter(rows) is rows  # lazy
        listed = [row.recipient for row in rows]
        assert listed == sorted(m.recipient for m in messages)
        in_flight = list(journal.rows(BROADCAST, state="in_flight"))
        assert {row.recipient for row in in_flight} == {m.recipient for m in messages[:5]}
        assert all(row.attempts == 1 for row in in_flight)

        out = io.StringIO(newline="")
        assert journal.export_csv(BROADCAST, out, state=RecipientState.IN_FLIGHT) == 5
        expected = {
            row.recipient: {k: "" if v is None else str(v) for k, v in row.to_dict().items()}
            for row in in_flight
        }
    records = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert {r["recipient"]: r for r in records} == expected
    assert tuple(records[0]) == JOURNAL_COLUMNS
    assert {r["state"] for r in records} == {"in_flight"}
    assert records[0]["broadcast_id"] == BROADCAST and records[0]["message_id"] == ""


def test_rows_round_trip_through_json(journal_url: str) -> None:
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        journal.admit(BROADCAST, run, [(0, Message(recipient(1), "x"))])
        (row,) = journal.rows(BROADCAST)
        (info,) = journal.broadcasts()
    assert type(row).from_dict(row.to_dict()) == row
    assert type(info).from_dict(info.to_dict()) == info


def test_unknown_broadcasts_and_states_are_reported(journal_url: str) -> None:
    with Journal(journal_url) as journal:
        journal.begin_run(BROADCAST)
        with pytest.raises(ValidationError, match="no broadcast 'nope' in journal"):
            journal.summary("nope")
        with pytest.raises(ValidationError, match="no broadcast 'nope'"):
            journal.rows("nope")
        with pytest.raises(ValidationError, match="state must be one of pending"):
            journal.rows(BROADCAST, state="sent")
        assert journal.row(BROADCAST, "+1") is None


def test_a_directory_is_not_a_journal(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is a directory"):
        Journal(tmp_path)


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        Journal(tmp_path / "missing" / "journal.sqlite")


def test_create_false_wants_an_existing_journal(journal_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        Journal(journal_path, create=False)
    Journal(journal_path).close()
    Journal(journal_path, create=False).close()


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a database, just words " * 100)
    with pytest.raises(ValidationError, match="is not a broadcastio journal"):
        Journal(garbage)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(ValidationError, match="not a broadcastio journal"):
        Journal(other)


def test_the_journal_is_in_wal_mode(journal_path: Path) -> None:
    Journal(journal_path).close()
    with sqlite3.connect(journal_path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("value", [None, 3, True, ""])
def test_journal_path_must_be_a_path(value: object) -> None:
    with pytest.raises(ValidationError, match="journal must be a file path"):
        Journal(value)  # type: ignore[arg-type]

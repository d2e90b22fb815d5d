"""Misuse is an exception that says what was wrong; nothing is sent before it is reported."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from broadcast_support import RecordingProvider, make_messages, recipient

from broadcastio import Message, Orchestrator, ValidationError
from broadcastio.broadcast import Journal, RecipientState, broadcast, iter_broadcast


@pytest.fixture
def orchestrator() -> Orchestrator:
    return Orchestrator([RecordingProvider()])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"concurrency": -3}, "concurrency must be >= 1"),
        ({"concurrency": 2.5}, "concurrency must be an integer"),
        ({"concurrency": True}, "concurrency must be an integer"),
        ({"concurrency": 10_000}, "concurrency must be <= 256"),
        ({"broadcast_id": ""}, "broadcast_id must not be empty"),
        ({"broadcast_id": 7}, "broadcast_id must be a string"),
        ({"broadcast_id": " padded "}, "without surrounding blanks"),
        ({"broadcast_id": "a\nb"}, "control characters"),
        ({"broadcast_id": "x" * 201}, "at most 200 characters"),
        ({"retry_failed": "yes"}, "retry_failed must be true or false"),
        ({"on_result": "print"}, "on_result must be callable"),
        ({"stop": True}, "stop must be a threading.Event"),
        ({"journal": 12}, "journal must be a file path or a Journal"),
    ],
)
def test_bad_arguments_are_named(orchestrator: Orchestrator, kwargs, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        iter_broadcast(orchestrator, make_messages(1), **kwargs)


@pytest.mark.parametrize(
    "messages", ["+15551234567", b"bytes", 42, Message("+15551234567", "one message")]
)
def test_messages_must_be_an_iterable_of_messages(orchestrator: Orchestrator, messages) -> None:
    with pytest.raises(ValidationError, match="messages must be an iterable of Message"):
        broadcast(orchestrator, messages)


def test_an_orchestrator_is_required() -> None:
    with pytest.raises(ValidationError, match="needs an Orchestrator, got list"):
        broadcast([], make_messages(1))  # type: ignore[arg-type]


def test_a_journal_path_that_is_a_directory(orchestrator: Orchestrator, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is a directory"):
        broadcast(orchestrator, make_messages(1), journal=tmp_path)


def test_a_bad_item_is_reported_with_its_index(journal_path: Path) -> None:
    provider = RecordingProvider()
    rows: list[object] = [*make_messages(3), {"recipient": "+1555"}, *make_messages(5)[3:]]
    run = iter_broadcast(Orchestrator([provider]), rows, journal=journal_path, broadcast_id="b")
    seen = []
    with pytest.raises(ValidationError, match=r"messages\[3\] is a dict, not a Message"):
        with run:
            for outcome in run:
                seen.append(outcome.index)
    # The rows before it went out (and were yielded); nothing after it was read.
    assert sorted(seen) == [0, 1, 2]
    assert set(provider.calls) == {recipient(0), recipient(1), recipient(2)}
    assert run.report is not None and run.report.interrupted and run.report.delivered == 3
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.DELIVERED] == 3
    # Fixed input, same broadcast id: the rest goes out, nothing twice.
    resumed = RecordingProvider()
    broadcast(Orchestrator([resumed]), make_messages(5), journal=journal_path, broadcast_id="b")
    assert set(resumed.calls) == {recipient(3), recipient(4)}


def test_different_content_for_a_known_broadcast_id_is_refused(journal_path: Path) -> None:
    orchestrator = Orchestrator([RecordingProvider()])
    broadcast(orchestrator, make_messages(5), journal=journal_path, broadcast_id="b")
    changed = make_messages(5, text="Store closes at 7 today")
    with pytest.raises(ValidationError, match=r"'\+15550000000' \(input index 0\) differs"):
        broadcast(orchestrator, changed, journal=journal_path, broadcast_id="b")


def test_an_error_from_the_input_is_raised_after_the_rows_before_it(
    journal_path: Path,
) -> None:
    def rows():
        yield from make_messages(4)
        raise OSError("recipients.csv: read error")

    provider = RecordingProvider()
    with pytest.raises(OSError, match="read error"):
        broadcast(Orchestrator([provider]), rows(), journal=journal_path, broadcast_id="b")
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
    assert summary[RecipientState.DELIVERED] == provider.count == 4
    assert summary[RecipientState.IN_FLIGHT] == 0


def test_a_run_never_iterated_can_be_closed(orchestrator: Orchestrator, journal_path) -> None:
    run = iter_broadcast(orchestrator, make_messages(3), journal=journal_path)
    run.close()
    assert run.report is None and run.run is None
    assert threading.active_count() >= 1  # no sending threads were started

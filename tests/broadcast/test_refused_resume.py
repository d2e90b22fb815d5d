"""A run refused before it journaled anything leaves no trace: no run counted, no report lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import Message, Orchestrator, ValidationError
from broadcastio.broadcast import Journal, broadcast
from broadcastio_dummy import DummyProvider

BROADCAST = "newsletter"


def test_a_resume_with_different_text_does_not_count_as_a_run(journal_path: Path) -> None:
    first = broadcast(
        Orchestrator([DummyProvider()]),
        make_messages(5),
        journal=journal_path,
        broadcast_id=BROADCAST,
    )
    with Journal(journal_path, read_only=True) as journal:
        before = journal.info(BROADCAST)
    changed = [Message(message.recipient, "other text") for message in make_messages(5)]
    provider = DummyProvider()
    with pytest.raises(ValidationError, match="differs from the one an earlier run journaled"):
        broadcast(Orchestrator([provider]), changed, journal=journal_path, broadcast_id=BROADCAST)
    assert provider.sent == []
    with Journal(journal_path, read_only=True) as journal:
        after = journal.info(BROADCAST)
    assert after.runs == before.runs == 1
    assert after.last_report == first
    assert after.updated_at == before.updated_at
    # The next real resume is run 2, as if the refused one never happened.
    again = broadcast(
        Orchestrator([DummyProvider()]),
        make_messages(5),
        journal=journal_path,
        broadcast_id=BROADCAST,
    )
    assert again.run == 2 and again.already_delivered == 5


def test_a_new_broadcast_refused_at_its_first_row_is_not_listed(journal_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"messages\[0\] is a str"):
        broadcast(
            Orchestrator([DummyProvider()]),
            ["not a message"],  # type: ignore[list-item]
            journal=journal_path,
            broadcast_id="typo",
        )
    with Journal(journal_path, read_only=True) as journal:
        assert [info.broadcast_id for info in journal.broadcasts()] == []


def test_a_run_that_sent_something_is_still_recorded(journal_path: Path) -> None:
    rows = [*make_messages(3), "not a message"]
    with pytest.raises(ValidationError):
        broadcast(
            Orchestrator([DummyProvider()]),
            rows,  # type: ignore[arg-type]
            journal=journal_path,
            broadcast_id=BROADCAST,
        )
    with Journal(journal_path, read_only=True) as journal:
        info = journal.info(BROADCAST)
    assert info.runs == 1
    assert info.last_report is not None and info.last_report.delivered == 3

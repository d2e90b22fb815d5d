"""A transaction a Ctrl-C left open never blocks the journal's next write.

``KeyboardInterrupt`` lands between any two bytecodes of the consuming
thread, including just after a transaction's ``BEGIN`` and before the block
that would roll it back. ``tests/broadcast/test_interrupt.py`` hit that
window about once in forty runs: every later write, the run's wind-down
among them, failed with "cannot start a transaction within a transaction".
The window is a bytecode wide, so this test opens it on purpose: it begins a
transaction on the journal's own connection, as the interrupted call had,
then uses the journal through its public methods.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import Journal, RecipientState, broadcast
from broadcastio_dummy import DummyProvider


def test_a_transaction_left_open_by_an_interrupt_is_rolled_back_not_fatal(
    journal_url: str,
) -> None:
    messages = make_messages(3)
    with Journal(journal_url) as journal:
        first = broadcast(
            Orchestrator([DummyProvider()]), messages[:2], journal=journal, broadcast_id="cut"
        )
        assert first.delivered == 2
        # What the interrupted call left: a BEGIN with nothing after it.
        journal._file.connection.execute("BEGIN")
        second = broadcast(
            Orchestrator([DummyProvider()]), messages, journal=journal, broadcast_id="cut"
        )
        summary = journal.summary("cut")
    assert (second.delivered, second.already_delivered) == (1, 2)
    assert summary[RecipientState.DELIVERED] == 3


class InterruptedAfterBegin:
    """The journal's connection, with a Ctrl-C arriving as its next ``BEGIN`` returns.

    CPython runs a pending signal handler as soon as a C call returns, so the
    ``KeyboardInterrupt`` is raised right after SQLite began the transaction:
    before any block that could roll it back has started.
    """

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.armed = True

    def execute(self, statement: str, *parameters: object) -> sqlite3.Cursor:
        cursor = self.real.execute(statement, *parameters)
        if statement == "BEGIN" and self.armed:
            self.armed = False
            raise KeyboardInterrupt
        return cursor

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_a_ctrl_c_right_after_begin_leaves_no_transaction_open(journal_path: Path) -> None:
    # Left open, the transaction would take in the journal's next
    # self-committing statements (the end of the run, its report) and lose
    # them when the journal closes.
    with Journal(journal_path) as journal:
        real = journal._file.connection
        journal._file.connection = InterruptedAfterBegin(real)  # type: ignore[assignment]
        try:
            with pytest.raises(KeyboardInterrupt):
                journal.admit("b", 1, [(0, Message("+15550000001", "hi"))])
        finally:
            journal._file.connection = real
        assert not real.in_transaction
        report = broadcast(
            Orchestrator([DummyProvider()]), make_messages(3), journal=journal, broadcast_id="b"
        )
    assert report.delivered == 3
    with Journal(journal_path) as reopened:
        assert reopened.summary("b")[RecipientState.DELIVERED] == 3
        info = reopened.info("b")
        assert info.runs == 1 and info.last_report == report

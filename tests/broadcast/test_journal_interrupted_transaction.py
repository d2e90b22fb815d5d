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

from broadcast_support import make_messages

from broadcastio import Orchestrator
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

"""Adaptive dispatch: fast sends go to the threads in chunks, slow ones one per thread.

Observed through ``broadcast()`` only: how many sends a provider sees under
way at once (its own count, taken inside ``send``), what the report and the
journal say after a stop, and each recipient's reference ids across a resume.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from broadcast_support import RecordingProvider, make_messages

from broadcastio import DeliveryResult, Message, Orchestrator
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    broadcast,
    iter_broadcast,
    reference_id_for,
)

# How long a send waits for company before giving up: only reached when the
# run does not put ``concurrency`` sends under way at once (the failure).
LONELY_SECONDS = 0.5


class OverlapProvider(RecordingProvider):
    """Fast for the first ``fast_sends`` sends, then slow: counts the sends under way at once.

    A slow send waits until ``concurrency`` sends are under way together (it
    then happened: ``reached``), or gives up after ``LONELY_SECONDS``
    (counted in ``lonely``). Once reached, slow sends only sleep a
    millisecond, which is still far slower than the fast ones.
    """

    def __init__(self, concurrency: int, fast_sends: int) -> None:
        super().__init__()
        self.concurrency = concurrency
        self.fast_sends = fast_sends
        self.under_way = 0
        self.most_under_way = 0
        self.reached = False
        self.lonely = 0
        self._condition = threading.Condition()

    def send(self, message: Message) -> DeliveryResult:
        with self._condition:
            slow = self.count >= self.fast_sends
            self.under_way += 1
            self.most_under_way = max(self.most_under_way, self.under_way)
            if slow and self.under_way >= self.concurrency:
                self.reached = True
                self._condition.notify_all()
        try:
            if slow:
                with self._condition:
                    if not self._condition.wait_for(lambda: self.reached, LONELY_SECONDS):
                        self.lonely += 1
                time.sleep(0.001)
            return super().send(message)
        finally:
            with self._condition:
                self.under_way -= 1


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_slow_provider_gets_concurrency_sends_under_way(
    journal_path: Path, concurrency: int
) -> None:
    provider = OverlapProvider(concurrency, fast_sends=0)
    messages = make_messages(6 * concurrency)
    report = broadcast(
        Orchestrator([provider]),
        messages,
        journal=journal_path,
        broadcast_id="b",
        concurrency=concurrency,
    )
    assert report.delivered == len(messages)
    assert provider.reached and provider.lonely == 0
    assert provider.most_under_way == concurrency


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_provider_that_turns_slow_gets_every_thread_back(
    journal_path: Path, concurrency: int
) -> None:
    # Hundreds of fast sends first: the run hands chunks of tasks to its threads.
    # Then the sends turn slow: the tasks still waiting in a chunk must reach the
    # other threads, or sends queue behind one another on one thread.
    provider = OverlapProvider(concurrency, fast_sends=400)
    messages = make_messages(400 + 8 * concurrency)
    report = broadcast(
        Orchestrator([provider]),
        messages,
        journal=journal_path,
        broadcast_id="b",
        concurrency=concurrency,
    )
    assert report.delivered == len(messages)
    assert provider.reached
    assert provider.most_under_way == concurrency
    # Only the slow sends already started when the change came can have waited
    # alone: at most one per chunk then in the threads' hands.
    assert provider.lonely <= 2, provider.lonely
    for message in messages:
        key = str(message.recipient)  # make_messages: phone numbers
        assert provider.calls[key] == [reference_id_for("b", key)]


def resume_and_check(journal_path: Path, first: RecordingProvider, messages: list[Message]) -> None:
    """Resume; every recipient is then delivered, each sent exactly once, under its own key."""
    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), messages, journal=journal_path, broadcast_id="b")
    assert report.complete and report.run == 2
    assert report.delivered + report.already_delivered == len(messages)
    for message in messages:
        key = str(message.recipient)  # make_messages: phone numbers
        sends = first.calls.get(key, []) + second.calls.get(key, [])
        assert sends == [reference_id_for("b", key)], key


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_stop_while_fast_sends_run_in_chunks(journal_path: Path, concurrency: int) -> None:
    # The stop comes deep in a run of fast sends, while chunks are in the threads'
    # hands: what they have not started comes back NOT_SENT, its rows pending.
    stop = threading.Event()
    messages = make_messages(3000)

    def on_send(message: Message, number: int) -> None:
        if number == 1500:
            stop.set()

    provider = RecordingProvider(on_send=on_send)
    outcomes: list[RecipientOutcome] = []
    report = broadcast(
        Orchestrator([provider]),
        iter(messages),
        journal=journal_path,
        broadcast_id="b",
        concurrency=concurrency,
        stop=stop,
        on_result=outcomes.append,
    )
    assert report.interrupted and not report.complete
    assert report.delivered == provider.count >= 1500
    assert report.total == len(outcomes) < len(messages)
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        assert summary[RecipientState.IN_FLIGHT] == 0
        assert summary[RecipientState.DELIVERED] == report.delivered
    resume_and_check(journal_path, provider, messages)


@pytest.mark.parametrize("concurrency", [4, 16])
def test_ctrl_c_while_fast_sends_run_in_chunks(journal_path: Path, concurrency: int) -> None:
    # Every outcome received is committed before it is yielded; the sends under
    # way finish; the queued tasks and the unstarted rest of chunks are not sent.
    provider = RecordingProvider()
    messages = make_messages(3000)
    received: list[RecipientOutcome] = []
    run = iter_broadcast(
        Orchestrator([provider]),
        messages,
        journal=journal_path,
        broadcast_id="b",
        concurrency=concurrency,
    )
    with pytest.raises(KeyboardInterrupt):
        with run:
            for outcome in run:
                received.append(outcome)
                if len(received) == 1500:
                    with Journal(journal_path) as journal:
                        for seen in received:
                            row = journal.row("b", seen.recipient)
                            assert row is not None and row.state is RecipientState.DELIVERED
                    raise KeyboardInterrupt
    assert run.report is not None and run.report.interrupted
    assert run.report.delivered == provider.count
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        assert summary[RecipientState.IN_FLIGHT] == 0
        assert summary[RecipientState.DELIVERED] == provider.count
    resume_and_check(journal_path, provider, messages)

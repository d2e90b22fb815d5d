"""Adaptive dispatch: fast sends run on the consuming thread, slow ones one per worker thread.

Observed through ``broadcast()`` only: which thread a provider's ``send`` runs
on and how many sends it sees under way at once (its own count, taken inside
``send``), what the report and the journal say after a stop, and each
recipient's reference ids across a resume.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from broadcast_support import RecordingProvider, make_messages

from broadcastio import DeliveryResult, Message, Orchestrator, hookimpl
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientTask,
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
    # A run's first sends go to the worker threads: none is made alone.
    assert provider.reached and provider.lonely == 0
    assert provider.most_under_way == concurrency


@pytest.mark.parametrize("concurrency", [4, 16])
def test_a_provider_that_turns_slow_gets_every_thread_back(
    journal_path: Path, concurrency: int
) -> None:
    # Hundreds of fast sends first: the run sends them on its own thread. Then
    # the sends turn slow: the rest of the batch under way must reach the
    # worker threads, or sends queue behind one another on one thread.
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
    # Only the slow send already started when the change came can have waited
    # alone (and one more, should the average still have looked fast).
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
def test_a_stop_while_fast_sends_run_on_the_consuming_thread(
    journal_path: Path, concurrency: int
) -> None:
    # The stop comes deep in a run of fast sends, made by the consuming thread:
    # what it has not started comes back NOT_SENT, its rows pending.
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
def test_ctrl_c_while_fast_sends_run_on_the_consuming_thread(
    journal_path: Path, concurrency: int
) -> None:
    # Every outcome received is committed before it is yielded; the sends under
    # way finish; the rows claimed and not yet sent are not sent.
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


CURRENT = contextvars.ContextVar[str]("current", default="unset")


class SetsContext:
    """A plugin that makes a value current for the run, as the OpenTelemetry plugin does."""

    @hookimpl
    def before_broadcast(self, broadcast_id: str) -> None:
        CURRENT.set(f"broadcast {broadcast_id}")


@pytest.mark.parametrize("concurrency", [4, 16])
def test_fast_sends_run_on_the_consuming_thread(
    journal_path: Path, concurrency: int
) -> None:
    # A send that waits for nothing costs less than a hand-off to a worker
    # thread and back: once sends are seen to be fast, the run makes them itself.
    seen: list[tuple[threading.Thread, str]] = []

    def on_send(message: Message, number: int) -> None:
        seen.append((threading.current_thread(), CURRENT.get()))

    provider = RecordingProvider(on_send=on_send)
    orchestrator = Orchestrator([provider])
    orchestrator.plugin_manager.register(SetsContext())
    messages = make_messages(2000)
    report = broadcast(
        orchestrator, messages, journal=journal_path, broadcast_id="b", concurrency=concurrency
    )
    assert report.delivered == len(messages)
    here = sum(thread is threading.current_thread() for thread, _ in seen)
    assert here >= 0.9 * len(messages), here
    # Every send, wherever it ran, in the run's context; the caller's is left alone.
    assert {value for _, value in seen} == {"broadcast b"}
    assert CURRENT.get() == "unset"
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.DELIVERED] == len(messages)


class ProviderBug(BaseException):
    """Escapes the orchestrator (it only turns ``Exception`` into failed attempts)."""


@pytest.mark.parametrize("raised", [ProviderBug, KeyboardInterrupt])
def test_a_fast_send_cut_short_at_concurrency_4_leaves_only_its_row_in_flight(
    journal_path: Path, raised: type[BaseException]
) -> None:
    # Deep in a run of fast sends, the consuming thread is the one sending: an
    # exception escaping the send reaches it there, mid-send.
    cut: list[str] = []

    def on_send(message: Message, number: int) -> None:
        if number == 1500:
            cut.append(str(message.recipient))
            raise raised("cut short in the middle of a send")

    provider = RecordingProvider(on_send=on_send)
    messages = make_messages(3000)
    run = iter_broadcast(
        Orchestrator([provider]), messages, journal=journal_path, broadcast_id="b", concurrency=4
    )
    with pytest.raises(raised):
        with run:
            for _ in run:
                pass
    assert run.report is not None and run.report.interrupted
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        stuck = [row.recipient for row in journal.rows("b", state=RecipientState.IN_FLIGHT)]
    assert stuck == cut
    assert summary[RecipientState.DELIVERED] == run.report.delivered == 1499
    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), messages, journal=journal_path, broadcast_id="b")
    assert report.complete
    # The one cut short goes out again under its key; nobody else is sent twice.
    for message in messages:
        key = str(message.recipient)
        sends = provider.calls.get(key, []) + second.calls.get(key, [])
        assert sends == [reference_id_for("b", key)] * (2 if key == stuck[0] else 1), key


def test_one_slow_send_in_a_batch_does_not_send_the_run_to_the_threads(
    journal_path: Path,
) -> None:
    # A lone pause (a garbage collection, the machine busy) says nothing about
    # the provider: a batch's slowest send is left out of its average. The run's
    # first sends go to the threads; once they are seen fast, the run sends
    # itself, and one slow send in sixteen must not send it back.
    threads: list[str] = []

    def on_send(message: Message, number: int) -> None:
        threads.append(threading.current_thread().name)
        if number % 16 == 0:
            time.sleep(0.003)  # slow, but far under the 20 ms that hands a batch over

    report = broadcast(
        Orchestrator([RecordingProvider(on_send=on_send)]),
        make_messages(800),
        journal=journal_path,
        broadcast_id="b",
        concurrency=4,
    )
    assert report.delivered == 800
    assert set(threads[200:]) == {threading.current_thread().name}


def test_a_ctrl_c_while_a_batch_goes_to_the_threads_sends_and_counts_each_row_once(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Deep in a run of fast sends made by the consuming thread, one send is
    # slow, so the rest of its batch goes to the worker threads; a Ctrl-C lands
    # just after the first of them was queued. That one is the threads' to
    # send: it must not also be released and counted as not sent, and the rows
    # never queued must be released.
    from broadcastio.broadcast import pool as pool_module

    real_submit = pool_module.WorkerPool.submit
    armed: list[bool] = []

    def submit_then_ctrl_c(self: pool_module.WorkerPool, task: RecipientTask) -> None:
        real_submit(self, task)
        if armed:
            armed.clear()
            time.sleep(0.05)  # a worker takes it meanwhile
            raise KeyboardInterrupt

    def submit_all_then_ctrl_c(
        self: pool_module.WorkerPool, tasks: Sequence[RecipientTask]
    ) -> None:
        for task in tasks:
            submit_then_ctrl_c(self, task)

    monkeypatch.setattr(pool_module.WorkerPool, "submit", submit_then_ctrl_c)
    monkeypatch.setattr(pool_module.WorkerPool, "submit_all", submit_all_then_ctrl_c)

    def on_send(message: Message, number: int) -> None:
        if number == 401:  # the first of a batch of 4, made on the consuming thread
            armed.append(True)
            time.sleep(0.03)  # over the 20 ms after which a batch goes to the threads

    provider = RecordingProvider(on_send=on_send)
    run = iter_broadcast(
        Orchestrator([provider]),
        make_messages(1000),
        journal=journal_path,
        broadcast_id="b",
        concurrency=4,
    )
    with pytest.raises(KeyboardInterrupt):
        with run:
            for _ in run:
                pass
    report = run.report
    assert report is not None and report.interrupted
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        delivered = list(journal.rows("b", state=RecipientState.DELIVERED))
    # Every row read counted once, and sent at most once.
    assert report.total == sum(summary.values())
    assert report.delivered == provider.count == summary[RecipientState.DELIVERED]
    assert report.not_sent == summary[RecipientState.PENDING] > 0
    assert all(row.attempts == 1 for row in delivered)
    assert all(len(ids) == 1 for ids in provider.calls.values())

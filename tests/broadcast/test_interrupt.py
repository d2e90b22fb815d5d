"""Stopping a broadcast (stop event, Ctrl-C, a crash) leaves a journal a resume can finish."""

from __future__ import annotations

import _thread
import threading
import time
from pathlib import Path

import pytest
from broadcast_support import RecordingProvider, make_messages

from broadcastio import DeliveryResult, Message, Orchestrator
from broadcastio.broadcast import (
    Journal,
    RecipientState,
    RecipientStatus,
    broadcast,
    iter_broadcast,
    reference_id_for,
)

MESSAGES = make_messages(120)


class SlowProvider(RecordingProvider):
    """Takes a little time per send, so several sends are under way at any moment."""

    def send(self, message: Message) -> DeliveryResult:
        time.sleep(0.002)
        return super().send(message)


def resume_and_check(journal_path: Path, first: RecordingProvider) -> None:
    """Resume the broadcast; every recipient is then delivered, each sent exactly once."""
    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), MESSAGES, journal=journal_path, broadcast_id="b")
    assert report.complete and report.run == 2
    assert report.delivered + report.already_delivered == len(MESSAGES)
    for message in MESSAGES:
        sends = first.calls.get(message.recipient, []) + second.calls.get(message.recipient, [])
        assert sends == [reference_id_for("b", message.recipient)], message.recipient
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.DELIVERED] == len(MESSAGES)


def test_a_stop_event_ends_the_run_cleanly(journal_path: Path) -> None:
    stop = threading.Event()
    provider = SlowProvider()

    def on_result(outcome):
        if outcome.index >= 10:
            stop.set()

    report = broadcast(
        Orchestrator([provider]),
        iter(MESSAGES),
        journal=journal_path,
        broadcast_id="b",
        concurrency=4,
        stop=stop,
        on_result=on_result,
    )
    assert report.interrupted and not report.complete
    assert 10 < report.total < len(MESSAGES)
    assert report.delivered == provider.count
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        assert summary[RecipientState.IN_FLIGHT] == 0
        assert summary[RecipientState.DELIVERED] == report.delivered
        assert journal.info("b").last_report == report
    resume_and_check(journal_path, provider)


def test_ctrl_c_in_the_consumer_waits_for_sends_then_propagates(journal_path: Path) -> None:
    provider = SlowProvider()
    run = iter_broadcast(
        Orchestrator([provider]), MESSAGES, journal=journal_path, broadcast_id="b", concurrency=4
    )
    with pytest.raises(KeyboardInterrupt):
        with run:
            for outcome in run:
                if outcome.index == 20:
                    raise KeyboardInterrupt
    assert run.report is not None and run.report.interrupted
    assert run.report.delivered == provider.count  # every send under way was accounted for
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.IN_FLIGHT] == 0
    resume_and_check(journal_path, provider)


def test_ctrl_c_while_the_run_waits(journal_path: Path) -> None:
    # A real SIGINT lands wherever the main thread is: here it is raised in the
    # main thread while the run is inside its own loop, as a user's Ctrl-C would.
    def on_send(message: Message, number: int) -> None:
        if number == 15:
            _thread.interrupt_main()
        time.sleep(0.002)

    provider = RecordingProvider(on_send=on_send)
    with pytest.raises(KeyboardInterrupt):
        broadcast(
            Orchestrator([provider]),
            MESSAGES,
            journal=journal_path,
            broadcast_id="b",
            concurrency=3,
        )
    resume_and_check(journal_path, provider)


def test_stopping_drops_queued_sends_and_releases_their_rows(journal_path: Path) -> None:
    stop = threading.Event()
    release = threading.Event()

    def on_send(message: Message, number: int) -> None:
        if number == 1:
            stop.set()  # the run stops while this send (and the queue behind it) waits
            release.wait(5)

    provider = RecordingProvider(on_send=on_send)
    run = iter_broadcast(
        Orchestrator([provider]),
        MESSAGES,
        journal=journal_path,
        broadcast_id="b",
        concurrency=1,
        stop=stop,
    )
    threading.Timer(0.2, release.set).start()
    with run:
        statuses = [outcome.status for outcome in run]
    assert statuses.count(RecipientStatus.DELIVERED) == 1
    assert statuses.count(RecipientStatus.NOT_SENT) >= 1
    assert run.report is not None and run.report.not_sent == statuses.count(
        RecipientStatus.NOT_SENT
    )
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
    assert summary[RecipientState.IN_FLIGHT] == 0
    assert summary[RecipientState.PENDING] == run.report.not_sent
    resume_and_check(journal_path, provider)


class ProviderBug(BaseException):
    """Escapes the orchestrator (it only turns ``Exception`` into failed attempts)."""


def test_a_crash_in_a_send_leaves_its_row_in_flight(journal_path: Path) -> None:
    def on_send(message: Message, number: int) -> None:
        if number == 5:
            raise ProviderBug("simulated crash in the middle of a send")

    provider = RecordingProvider(on_send=on_send)
    with pytest.raises(ProviderBug):
        broadcast(
            Orchestrator([provider]),
            MESSAGES,
            journal=journal_path,
            broadcast_id="b",
            concurrency=2,
        )
    with Journal(journal_path) as journal:
        stuck = list(journal.rows("b", state=RecipientState.IN_FLIGHT))
    assert len(stuck) == 1
    # The resume sends it again, under the same reference id: a provider that
    # deduplicates on it (the WhatsApp bridge) replays instead of sending twice.
    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), MESSAGES, journal=journal_path, broadcast_id="b")
    assert report.complete
    assert second.calls[stuck[0].recipient] == [stuck[0].reference_id]

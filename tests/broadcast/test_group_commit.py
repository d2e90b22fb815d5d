"""Outcomes committed several per transaction, and concurrency 1 sending on the consuming thread.

What must hold whatever the grouping: an outcome reaches the caller only once
its row is committed, a send cut short leaves its row ``in_flight`` (and only
that row), and the rows claimed but never sent go back to ``pending``.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from broadcast_support import RecordingProvider, make_messages, recipient

from broadcastio import Message, Orchestrator, hookimpl
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientStatus,
    RecipientTask,
    broadcast,
    iter_broadcast,
    reference_id_for,
)

MESSAGES = make_messages(200)


class CountingJournal(Journal):
    """A journal that counts the transactions that record outcomes, and the rows in them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.transactions = 0
        self.rows = 0

    def record_outcome(self, task: RecipientTask, *args: object, **kwargs: object) -> None:
        self.transactions += 1
        self.rows += 1
        super().record_outcome(task, *args, **kwargs)  # type: ignore[arg-type]

    def record_outcomes(
        self,
        broadcast_id: str,
        outcomes: Sequence[RecipientOutcome],
        address_kinds: Sequence[str | None],
    ) -> None:
        self.transactions += 1
        self.rows += len(outcomes)
        super().record_outcomes(broadcast_id, outcomes, address_kinds)


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_every_outcome_is_committed_before_the_caller_sees_it(
    journal_path: Path, concurrency: int
) -> None:
    with CountingJournal(journal_path) as journal:
        run = iter_broadcast(
            Orchestrator([RecordingProvider()]),
            MESSAGES,
            journal=journal,
            broadcast_id="b",
            concurrency=concurrency,
        )
        with run:
            for outcome in run:
                assert journal.row("b", outcome.recipient).state is RecipientState.DELIVERED
        assert journal.rows == len(MESSAGES)
        assert journal.summary("b")[RecipientState.DELIVERED] == len(MESSAGES)


def test_a_run_on_one_thread_commits_outcomes_in_groups(journal_path: Path) -> None:
    with CountingJournal(journal_path) as journal:
        report = broadcast(
            Orchestrator([RecordingProvider()]),
            MESSAGES,
            journal=journal,
            broadcast_id="b",
            concurrency=1,
        )
        assert report.delivered == len(MESSAGES)
        # One transaction per recipient before; now a handful for the whole run.
        assert journal.transactions <= len(MESSAGES) // 10


CURRENT = contextvars.ContextVar[str]("current", default="unset")


class SetsContext:
    """A plugin that makes a value current for the run, as the OpenTelemetry plugin does."""

    @hookimpl
    def before_broadcast(self, broadcast_id: str) -> None:
        CURRENT.set(f"broadcast {broadcast_id}")


def test_concurrency_one_sends_on_the_consuming_thread_in_the_run_context() -> None:
    seen: list[tuple[threading.Thread, str]] = []

    def on_send(message: Message, number: int) -> None:
        seen.append((threading.current_thread(), CURRENT.get()))

    orchestrator = Orchestrator([RecordingProvider(on_send=on_send)])
    orchestrator.plugin_manager.register(SetsContext())
    report = broadcast(orchestrator, MESSAGES[:40], concurrency=1, broadcast_id="b")
    assert report.delivered == 40
    assert {thread for thread, _ in seen} == {threading.current_thread()}
    assert {value for _, value in seen} == {"broadcast b"}
    # The caller's own context is left alone.
    assert CURRENT.get() == "unset"


class ProviderBug(BaseException):
    """Escapes the orchestrator (it only turns ``Exception`` into failed attempts)."""


@pytest.mark.parametrize("raised", [ProviderBug, KeyboardInterrupt])
def test_a_send_cut_short_on_the_consuming_thread_leaves_only_its_row_in_flight(
    journal_path: Path, raised: type[BaseException]
) -> None:
    def on_send(message: Message, number: int) -> None:
        if number == 5:
            raise raised("cut short in the middle of a send")

    provider = RecordingProvider(on_send=on_send)
    run = iter_broadcast(
        Orchestrator([provider]), MESSAGES, journal=journal_path, broadcast_id="b", concurrency=1
    )
    with pytest.raises(raised):
        with run:
            for _ in run:
                pass
    assert run.report is not None and run.report.interrupted
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
        stuck = list(journal.rows("b", state=RecipientState.IN_FLIGHT))
    # The four sends before it are journaled; the rest of its batch was never sent.
    assert summary[RecipientState.DELIVERED] == 4
    assert [row.recipient for row in stuck] == [recipient(4)]
    assert summary[RecipientState.PENDING] == run.report.not_sent > 0

    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), MESSAGES, journal=journal_path, broadcast_id="b")
    assert report.complete and report.already_delivered == 4
    # The one cut short goes out again under its key; nobody else is sent twice.
    for message in MESSAGES:
        sends = provider.calls.get(message.recipient, []) + second.calls.get(message.recipient, [])
        expected = 2 if message.recipient == recipient(4) else 1
        assert sends == [reference_id_for("b", message.recipient)] * expected


def test_a_stop_on_the_consuming_thread_sends_nothing_more(journal_path: Path) -> None:
    stop = threading.Event()

    def on_send(message: Message, number: int) -> None:
        if number == 3:
            stop.set()

    provider = RecordingProvider(on_send=on_send)
    run = iter_broadcast(
        Orchestrator([provider]),
        MESSAGES,
        journal=journal_path,
        broadcast_id="b",
        concurrency=1,
        stop=stop,
    )
    with run:
        statuses = [outcome.status for outcome in run]
    assert provider.count == 3
    assert statuses.count(RecipientStatus.DELIVERED) == 3
    assert run.report is not None and run.report.interrupted
    with Journal(journal_path) as journal:
        summary = journal.summary("b")
    assert summary[RecipientState.IN_FLIGHT] == 0
    assert summary[RecipientState.PENDING] == statuses.count(RecipientStatus.NOT_SENT)


def test_the_field_order_the_run_relies_on() -> None:
    """Tasks and outcomes are built positionally on the per-row path: pin their order."""
    import attrs

    assert [field.name for field in attrs.fields(RecipientTask)] == [
        "broadcast_id",
        "run",
        "index",
        "message",
        "previous_state",
        "attempts",
    ]
    assert [field.name for field in attrs.fields(RecipientOutcome)] == [
        "broadcast_id",
        "index",
        "recipient",
        "reference_id",
        "status",
        "result",
        "attempts",
        "contact",
    ]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_failure_code_is_logged_once_per_run_whichever_thread_sends(
    concurrency: int, caplog: pytest.LogCaptureFixture
) -> None:
    from broadcastio import DeliveryResult, ErrorCode

    class Refusing(RecordingProvider):
        def send(self, message: Message) -> DeliveryResult:
            super().send(message)
            return DeliveryResult.failed(self.name, ErrorCode.INVALID_RECIPIENT, "no such number")

    with caplog.at_level("WARNING", logger="broadcastio"):
        report = broadcast(Orchestrator([Refusing()]), MESSAGES[:20], concurrency=concurrency)
    assert report.failed == 20
    warned = [r.getMessage() for r in caplog.records if "INVALID_RECIPIENT" in r.getMessage()]
    assert len(warned) == 1, warned


def test_outcomes_are_committed_while_every_sending_thread_is_stuck_in_a_send(
    journal_path: Path,
) -> None:
    """The first outcomes of a run must reach the journal even if the next sends hang."""
    release = threading.Event()
    seen_committed = threading.Event()

    def on_send(message: Message, number: int) -> None:
        if number > 2:
            release.wait(60)  # both threads hang here until the journal shows two outcomes

    def watch() -> None:
        deadline = threading.Event()
        for _ in range(200):  # 10 s at most
            try:
                with Journal(journal_path, read_only=True) as journal:
                    if journal.summary("b")[RecipientState.DELIVERED] >= 2:
                        seen_committed.set()
                        break
            except Exception:  # noqa: BLE001 - not created yet
                pass
            deadline.wait(0.05)
        release.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    report = broadcast(
        Orchestrator([RecordingProvider(on_send=on_send)]),
        MESSAGES[:6],
        journal=journal_path,
        broadcast_id="b",
        concurrency=2,
    )
    watcher.join()
    assert report.delivered == 6
    assert seen_committed.is_set(), "the first outcomes waited for the hung sends"

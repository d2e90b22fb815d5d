"""broadcast / iter_broadcast: totals, resume, retries, duplicates, laziness, observers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from broadcast_support import CountingStream, RecordingProvider, make_messages, recipient

from broadcastio import ErrorCode, Message, Orchestrator
from broadcastio.broadcast import (
    BroadcastReport,
    Journal,
    RecipientState,
    RecipientStatus,
    RecipientTask,
    broadcast,
    iter_broadcast,
    reference_id_for,
)
from broadcastio.broadcast.admission import with_reference_id
from broadcastio_dummy import DummyProvider


def test_every_message_is_sent_and_counted(journal_path: Path) -> None:
    provider = DummyProvider()
    report = broadcast(
        Orchestrator([provider]), iter(make_messages(50)), journal=journal_path, broadcast_id="b"
    )
    assert (report.total, report.delivered, report.run) == (50, 50, 1)
    assert report.delivered_by_provider == {"dummy": 50}
    assert report.complete and not report.interrupted
    assert report.journal == str(journal_path)
    assert len(provider.sent) == 50
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.DELIVERED] == 50
        saved = journal.info("b").last_report
    assert saved == report


def test_each_message_carries_its_derived_reference_id() -> None:
    provider = RecordingProvider()
    broadcast(Orchestrator([provider]), make_messages(5), broadcast_id="promo")
    for number in range(5):
        assert provider.calls[recipient(number)] == [reference_id_for("promo", recipient(number))]


def test_a_broadcast_id_is_made_when_none_is_given() -> None:
    run = iter_broadcast(Orchestrator([DummyProvider()]), make_messages(2))
    with run:
        outcomes = list(run)
    assert run.broadcast_id and {o.broadcast_id for o in outcomes} == {run.broadcast_id}
    assert run.report is not None and run.report.broadcast_id == run.broadcast_id


def test_iter_broadcast_yields_one_outcome_per_row() -> None:
    messages = make_messages(20)
    messages.insert(5, messages[2])
    with iter_broadcast(Orchestrator([DummyProvider()]), messages, concurrency=3) as run:
        outcomes = list(run)
    assert sorted(o.index for o in outcomes) == list(range(21))
    duplicates = [o for o in outcomes if o.status is RecipientStatus.DUPLICATE]
    assert [(o.index, o.recipient, o.sent) for o in duplicates] == [(5, recipient(2), False)]
    assert run.report is not None
    assert (run.report.delivered, run.report.duplicates, run.report.total) == (20, 1, 21)
    assert run.report.complete


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_run_closed_part_way_through_a_batch_hands_out_nothing_more(concurrency: int) -> None:
    # Sends are made, committed and counted a batch at a time (32 rows at
    # concurrency 1); a consumer that closes the run after three outcomes gets
    # no more, whether it calls next() again or goes on with its for loop.
    with iter_broadcast(
        Orchestrator([DummyProvider()]), make_messages(100), concurrency=concurrency
    ) as run:
        taken = [next(run) for _ in range(3)]
        run.close()
        assert list(run) == []
        with pytest.raises(StopIteration):
            next(run)
    assert len({o.index for o in taken}) == 3
    assert run.report is not None and run.report.interrupted
    assert run.report.total < 100


def test_on_result_hears_of_an_outcome_only_as_it_is_handed_out() -> None:
    seen: list[int] = []
    provider = DummyProvider()
    run = iter_broadcast(
        Orchestrator([provider]), make_messages(100), on_result=lambda o: seen.append(o.index)
    )
    with run:
        taken = [next(run).index for _ in range(3)]
    assert seen == taken


@pytest.mark.parametrize("with_journal", [False, True])
def test_a_recipient_listed_twice_is_sent_once(with_journal: bool, journal_path: Path) -> None:
    provider = RecordingProvider()
    messages = make_messages(30) * 2 + [Message(recipient(3), "Store closes at 6 today")]
    report = broadcast(
        Orchestrator([provider]),
        messages,
        journal=journal_path if with_journal else None,
        concurrency=4,
    )
    assert report.delivered == 30 and report.duplicates == 31
    assert all(len(calls) == 1 for calls in provider.calls.values())


def test_resume_skips_delivered_recipients(journal_path: Path) -> None:
    first = RecordingProvider()
    messages = make_messages(40)
    broadcast(Orchestrator([first]), messages[:25], journal=journal_path, broadcast_id="b")
    second = RecordingProvider()
    report = broadcast(Orchestrator([second]), messages, journal=journal_path, broadcast_id="b")
    assert (report.run, report.already_delivered, report.delivered) == (2, 25, 15)
    assert report.complete
    assert set(second.calls) == {m.recipient for m in messages[25:]}


def test_failed_and_ambiguous_rows_wait_for_retry_failed(make_provider, journal_path) -> None:
    messages = make_messages(6)
    script = [ErrorCode.INVALID_RECIPIENT, ErrorCode.TIMEOUT]
    flaky = make_provider("flaky", script)
    first = broadcast(
        Orchestrator([flaky]), messages, journal=journal_path, broadcast_id="b", concurrency=1
    )
    assert (first.delivered, first.failed, first.ambiguous) == (4, 1, 1)
    assert first.failed_by_code == {ErrorCode.INVALID_RECIPIENT: 1}

    again = make_provider("again")
    second = broadcast(Orchestrator([again]), messages, journal=journal_path, broadcast_id="b")
    assert (second.not_retried, second.already_delivered, second.sent) == (2, 4, 0)
    assert again.calls == []

    third = broadcast(
        Orchestrator([again]), messages, journal=journal_path, broadcast_id="b", retry_failed=True
    )
    assert (third.delivered, third.already_delivered) == (2, 4) and third.complete
    resent = {m.recipient: m.metadata.reference_id for m in again.calls}
    failed_first = [m.recipient for m in flaky.calls[:2]]
    assert set(resent) == set(failed_first)
    for number, reference in resent.items():
        assert reference == reference_id_for("b", number)
    with Journal(journal_path) as journal:
        rows = {row.recipient: row for row in journal.rows("b")}
    assert {row.state for row in rows.values()} == {RecipientState.DELIVERED}
    assert {rows[r].attempts for r in failed_first} == {2}


def test_in_flight_rows_are_resent_with_their_original_reference_id(journal_path: Path) -> None:
    messages = make_messages(10)
    # What a crash leaves: rows committed in flight, no outcome.
    with Journal(journal_path) as journal:
        run = journal.begin_run("b")
        journal.admit("b", run, list(enumerate(messages)))
        stuck = [
            RecipientTask("b", run, n, with_reference_id(m, reference_id_for("b", m.recipient)))
            for n, m in enumerate(messages[:3])
        ]
        journal.mark_in_flight(stuck)
    provider = RecordingProvider()
    report = broadcast(Orchestrator([provider]), messages, journal=journal_path, broadcast_id="b")
    assert report.delivered == 10 and report.run == 2
    for task in stuck:
        assert provider.calls[task.message.recipient] == [task.message.metadata.reference_id]
    with Journal(journal_path) as journal:
        assert journal.row("b", recipient(0)).attempts == 2


def test_messages_are_read_lazily() -> None:
    concurrency = 3
    stream = CountingStream(make_messages(200))
    yielded = 0
    worst = 0
    run = iter_broadcast(Orchestrator([DummyProvider()]), stream, concurrency=concurrency)
    with run:
        for _ in run:
            yielded += 1
            worst = max(worst, stream.consumed - yielded)
    assert yielded == stream.consumed == 200
    assert worst <= 2 * concurrency


def test_a_generator_of_many_rows_is_not_materialized(journal_path: Path) -> None:
    stream = CountingStream(make_messages(3000))
    seen_ahead = []
    provider = RecordingProvider(
        on_send=lambda message, number: seen_ahead.append(stream.consumed - number)
    )
    report = broadcast(Orchestrator([provider]), stream, journal=journal_path, concurrency=2)
    assert report.delivered == 3000
    assert max(seen_ahead) <= 2 * 2


def test_on_result_sees_every_outcome_and_cannot_break_the_run(caplog) -> None:
    seen = []

    def on_result(outcome):
        seen.append(outcome.index)
        if outcome.index == 3:
            raise RuntimeError("observer bug")

    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        report = broadcast(Orchestrator([DummyProvider()]), make_messages(8), on_result=on_result)
    assert sorted(seen) == list(range(8)) and report.delivered == 8
    assert "on_result raised" in caplog.text


def test_an_orchestration_error_fails_the_recipient_not_the_broadcast(
    make_provider, journal_path, caplog
) -> None:
    orchestrator = Orchestrator([make_provider("a", ready=False)], require_healthy=True)
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        report = broadcast(orchestrator, make_messages(5), journal=journal_path, broadcast_id="b")
    assert report.failed == 5 and not report.interrupted
    assert report.failed_by_code == {ErrorCode.NO_HEALTHY_PROVIDERS: 5}
    assert caplog.text.count("NO_HEALTHY_PROVIDERS for") == 1  # one warning per code
    with Journal(journal_path) as journal:
        assert journal.summary("b")[RecipientState.FAILED] == 5


def test_a_journal_instance_is_left_open(journal_path: Path) -> None:
    with Journal(journal_path) as journal:
        orchestrator = Orchestrator([DummyProvider()])
        broadcast(orchestrator, make_messages(3), journal=journal, broadcast_id="x")
        assert journal.summary("x")[RecipientState.DELIVERED] == 3


def test_an_empty_input_is_a_complete_run(journal_path: Path) -> None:
    report = broadcast(Orchestrator([DummyProvider()]), [], journal=journal_path)
    assert report.total == 0 and report.complete


def test_the_report_is_json(journal_path: Path) -> None:
    report = broadcast(Orchestrator([DummyProvider()]), make_messages(3), journal=journal_path)
    assert BroadcastReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report

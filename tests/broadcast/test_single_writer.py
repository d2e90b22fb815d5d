"""One writer per run: the thread consuming a broadcast is the only one that writes its journal.

The sending threads only send; the consuming thread admits and claims a batch
(``Journal.admit_and_claim``) and commits every outcome that came back, in one
transaction, before it yields them. These tests pin that shape and what it
must keep: each batch's claims follow the admission rules, and an outcome
leaves the pool only once its commit has returned.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from broadcast_support import RecordingProvider, make_messages, recipient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio import DeliveryResult, ErrorCode, Message, Orchestrator
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientTask,
    broadcast,
    reference_id_for,
)
from broadcastio.broadcast.admission import prepare_row, skip_status
from broadcastio.broadcast.journal.records import Admission
from broadcastio.broadcast.pool import WorkerPool
from broadcastio.broadcast.task import PreparedRow

TEXT = "Store closes at 6 today"


class ThreadNotingJournal(Journal):
    """A journal that notes which thread made each write of a run."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writers: set[threading.Thread] = set()

    def _note(self) -> None:
        self.writers.add(threading.current_thread())

    def admit_and_claim(self, *args: Any, **kwargs: Any) -> Any:
        self._note()
        return super().admit_and_claim(*args, **kwargs)

    def record_outcome(self, *args: Any, **kwargs: Any) -> None:
        self._note()
        super().record_outcome(*args, **kwargs)

    def record_outcomes(self, *args: Any, **kwargs: Any) -> None:
        self._note()
        super().record_outcomes(*args, **kwargs)

    def release(self, *args: Any, **kwargs: Any) -> None:
        self._note()
        super().release(*args, **kwargs)


@pytest.mark.parametrize("concurrency", [2, 4, 16])
def test_only_the_consuming_thread_writes_the_journal(
    journal_path: Path, concurrency: int
) -> None:
    provider = RecordingProvider()
    with ThreadNotingJournal(journal_path) as journal:
        report = broadcast(
            Orchestrator([provider]),
            make_messages(300),
            journal=journal,
            broadcast_id="b",
            concurrency=concurrency,
        )
        assert report.delivered == 300
        assert journal.summary("b")[RecipientState.DELIVERED] == 300
        # The sends ran elsewhere (a pool of threads); the writes did not.
        assert journal.writers == {threading.current_thread()}
    assert provider.count == 300


# Where a recipient stands after a first run, before the run under test reads it.
EARLIER = st.sampled_from([None, "pending", "in_flight", "delivered", "failed", "ambiguous"])
_broadcast_ids = itertools.count(1)


def _prepared(broadcast_id: str, numbers: Sequence[int]) -> list[PreparedRow]:
    return [
        prepare_row(broadcast_id, index, Message(recipient(number), TEXT))
        for index, number in enumerate(numbers)
    ]


def _journal_earlier_run(journal: Journal, broadcast_id: str, earlier: dict[int, str]) -> None:
    """Leave each recipient of ``earlier`` in its state, as a first run would have."""
    known = sorted(earlier)
    journal.admit_prepared(broadcast_id, 1, _prepared(broadcast_id, known))
    for number in known:
        state = earlier[number]
        if state == "pending":
            continue
        message = Message(recipient(number), TEXT)
        task = RecipientTask(
            broadcast_id,
            1,
            number,
            prepare_row(broadcast_id, number, message).message,
        )
        journal.mark_in_flight([task])
        if state == "delivered":
            result = DeliveryResult.delivered("recording", f"id-{number}")
            journal.record_outcome(task, RecipientState.DELIVERED, result)
        elif state in ("failed", "ambiguous"):
            code = ErrorCode.TIMEOUT if state == "ambiguous" else ErrorCode.INVALID_RECIPIENT
            result = DeliveryResult.failed("recording", code, "no")
            journal.record_outcome(task, RecipientState(state), result)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    earlier=st.dictionaries(st.integers(0, 11), EARLIER.filter(lambda s: s is not None)),
    read=st.lists(st.integers(0, 11), min_size=1, max_size=24),
    batch=st.integers(1, 9),
    retry_failed=st.booleans(),
)
def test_a_batch_is_claimed_exactly_as_the_admission_rules_say(
    journal_url: str,
    earlier: dict[int, str],
    read: list[int],
    batch: int,
    retry_failed: bool,
) -> None:
    broadcast_id = f"b{next(_broadcast_ids)}"  # one journal for every example: ids apart
    with Journal(journal_url) as journal:
        _journal_earlier_run(journal, broadcast_id, earlier)
        before = {row.recipient: row for row in journal.rows(broadcast_id)} if earlier else {}
        rows = _prepared(broadcast_id, read)
        admissions: list[Admission] = []
        claimed: list[bool] = []

        def should_send(admission: Admission) -> bool:
            return skip_status(admission, retry_failed) is None

        for start in range(0, len(rows), batch):
            got, sending = journal.admit_and_claim(
                broadcast_id, 2, rows[start : start + batch], should_send
            )
            admissions += got
            claimed += sending
        after = {row.recipient: row for row in journal.rows(broadcast_id)}

    seen: set[int] = set()
    for number, admission, was_claimed in zip(read, admissions, claimed, strict=True):
        key = recipient(number)
        previous = earlier.get(number)
        first_time = number not in seen
        assert admission.duplicate == (not first_time)
        if first_time:  # a repeat's ``previous`` is what the journal says by then
            assert admission.previous == (None if previous is None else RecipientState(previous))
        seen.add(number)
        sendable = previous in (None, "pending", "in_flight") or (
            retry_failed and previous in ("failed", "ambiguous")
        )
        assert was_claimed == (first_time and sendable), (number, previous)
        row = after[key]
        assert row.reference_id == reference_id_for(broadcast_id, key)
        if first_time and sendable:
            assert row.state is RecipientState.IN_FLIGHT
            assert row.attempts == (0 if key not in before else before[key].attempts) + 1
        elif first_time:
            assert (row.state, row.attempts) == (before[key].state, before[key].attempts)


def test_an_outcome_leaves_the_pool_only_once_its_commit_returned() -> None:
    """What keeps a Ctrl-C on the consuming thread from losing an outcome it took."""
    orchestrator = Orchestrator([RecordingProvider()])
    pool = WorkerPool(orchestrator, 2)
    messages = make_messages(5)
    for index, message in enumerate(messages):
        prepared = prepare_row("b", index, message)
        pool.submit(RecipientTask("b", 1, index, prepared.message))
    posted = 0
    while posted < len(messages):
        if pool.next_event(5.0) is not None:
            posted += 1

    def failing_commit(outcomes: list[RecipientOutcome]) -> None:
        raise KeyboardInterrupt  # lands in the middle of the commit

    with pytest.raises(KeyboardInterrupt):
        pool.take_sent(failing_commit)
    committed: list[list[RecipientOutcome]] = []
    taken = pool.take_sent(committed.append)
    assert committed == [taken]
    assert sorted(outcome.index for outcome in taken) == list(range(5))
    assert pool.take_sent(committed.append) == []
    pool.close()
    while pool.running:
        pool.next_event(5.0)

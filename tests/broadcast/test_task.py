"""The unit of work: reference ids, serializable tasks, deliver_recipient's transitions."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from broadcast_support import recipient
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    Attachment,
    ErrorCode,
    Message,
    OrchestrationError,
    Orchestrator,
)
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientStatus,
    RecipientTask,
    deliver_recipient,
    reference_id_for,
)

text = st.text(min_size=1, max_size=40).filter(lambda value: value.strip() == value and value)


@given(text, text)
def test_reference_ids_are_stable_and_distinct(broadcast_id: str, number: str) -> None:
    first = reference_id_for(broadcast_id, number)
    assert first == reference_id_for(broadcast_id, number)
    assert first != reference_id_for(broadcast_id + "x", number)
    assert first != reference_id_for(broadcast_id, number + "x")
    assert Message(number, "hi", metadata={"reference_id": first}).metadata.reference_id == first


def test_a_task_round_trips_through_json() -> None:
    message = Message(
        recipient(1),
        "Invoice attached",
        metadata={"priority": 8, "tags": ["billing"], "customer": 42},
        attachment=Attachment.from_bytes(b"%PDF-1.7 ...", "invoice.pdf"),
    )
    task = RecipientTask("b-1", 2, 17, message, RecipientState.FAILED, 1)
    wire = json.loads(json.dumps(task.to_dict()))
    assert RecipientTask.from_dict(wire) == task


def test_a_worker_can_run_a_task_it_received_as_json(make_provider, journal_path: Path) -> None:
    provider = make_provider("a")
    orchestrator = Orchestrator([provider])
    message = Message(recipient(1), "hi", metadata={"reference_id": reference_id_for("b", "x")})
    wire = json.dumps(RecipientTask("b", 1, 0, message).to_dict())
    outcomes: list[RecipientOutcome] = []

    def worker() -> None:
        with Journal(journal_path) as journal:
            task = RecipientTask.from_dict(json.loads(wire))
            outcomes.append(deliver_recipient(orchestrator, task, journal))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    (outcome,) = outcomes
    assert outcome.status is RecipientStatus.DELIVERED and outcome.attempts == 1
    assert RecipientOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome
    with Journal(journal_path) as journal:
        row = journal.row("b", recipient(1))
    assert row.state is RecipientState.DELIVERED and row.message_id == "a-1"


def test_a_task_delivered_twice_is_sent_once(make_provider, journal_path: Path) -> None:
    provider = make_provider("a")
    orchestrator = Orchestrator([provider])
    task = RecipientTask("b", 1, 0, Message(recipient(1), "hi"))
    with Journal(journal_path) as journal:
        first = deliver_recipient(orchestrator, task, journal)
        second = deliver_recipient(orchestrator, task, journal)
    assert first.status is RecipientStatus.DELIVERED
    assert second.status is RecipientStatus.ALREADY_DELIVERED and second.result is None
    assert len(provider.calls) == 1


def test_a_timeout_is_ambiguous(make_provider, journal_path: Path) -> None:
    orchestrator = Orchestrator([make_provider("a", [ErrorCode.TIMEOUT])])
    task = RecipientTask("b", 1, 0, Message(recipient(1), "hi"))
    with Journal(journal_path) as journal:
        outcome = deliver_recipient(orchestrator, task, journal)
        row = journal.row("b", recipient(1))
    assert outcome.status is RecipientStatus.AMBIGUOUS
    assert row.state is RecipientState.AMBIGUOUS and row.error_code is ErrorCode.TIMEOUT


def test_an_orchestration_error_is_recorded_as_a_failure(make_provider, journal_path: Path) -> None:
    orchestrator = Orchestrator([make_provider("a", ready=False)], require_healthy=True)
    task = RecipientTask("b", 1, 0, Message(recipient(1), "hi"))
    with Journal(journal_path) as journal:
        outcome = deliver_recipient(orchestrator, task, journal)
        row = journal.row("b", recipient(1))
    assert outcome.status is RecipientStatus.FAILED
    assert outcome.result is not None and outcome.result.error is not None
    assert outcome.result.error.code is ErrorCode.NO_HEALTHY_PROVIDERS
    assert outcome.result.error.details["exception_type"] == OrchestrationError.__name__
    assert row.state is RecipientState.FAILED
    assert row.error_code is ErrorCode.NO_HEALTHY_PROVIDERS


def test_without_a_journal_the_task_is_just_sent(make_provider) -> None:
    provider = make_provider("a", [ErrorCode.INVALID_RECIPIENT])
    outcome = deliver_recipient(
        Orchestrator([provider]), RecipientTask("b", 1, 3, Message(recipient(1), "hi"))
    )
    assert outcome.status is RecipientStatus.FAILED and outcome.index == 3
    assert outcome.sent

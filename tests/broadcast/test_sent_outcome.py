"""``send_recipient`` builds each sent row's outcome without attrs' ``__init__`` (issue 15).

That is only sound while ``RecipientOutcome`` checks and converts nothing, and
the record must be the one its constructor would build.
"""

from __future__ import annotations

import pickle

import attrs
import pytest

from broadcastio import Contact, Message, Orchestrator
from broadcastio.broadcast import RecipientOutcome, RecipientState, RecipientStatus, RecipientTask
from broadcastio.broadcast.task import claimed_task, send_recipient
from broadcastio_dummy import DummyProvider


def test_recipient_outcome_has_nothing_a_builder_would_skip() -> None:
    for field in attrs.fields(RecipientOutcome):
        assert field.converter is None, field.name
        assert field.validator is None, field.name
    assert not hasattr(RecipientOutcome, "__attrs_post_init__")
    assert not hasattr(RecipientOutcome, "__attrs_pre_init__")


@pytest.mark.parametrize(
    "recipient", ["+15551234567", Contact({"phone": "+15551234567"}, "customer-7")]
)
def test_a_sent_rows_outcome_is_what_the_constructor_builds(recipient: str | Contact) -> None:
    message = Message(recipient, "hello")
    task = RecipientTask("b-1", 2, 41, message, attempts=3)
    outcome = send_recipient(Orchestrator([DummyProvider()]), task)
    assert outcome.result is not None and outcome.result.success
    expected = RecipientOutcome(
        broadcast_id="b-1",
        index=41,
        recipient="+15551234567" if isinstance(recipient, str) else recipient.key,
        reference_id=message.metadata.reference_id,
        status=RecipientStatus.DELIVERED,
        result=outcome.result,
        attempts=4,
        contact=None if isinstance(recipient, str) else recipient,
    )
    assert type(outcome) is RecipientOutcome
    assert outcome == expected
    assert repr(outcome) == repr(expected)
    assert outcome.to_dict() == expected.to_dict()
    assert pickle.loads(pickle.dumps(outcome)) == expected
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        outcome.index = 0  # type: ignore[misc]


def test_recipient_task_has_nothing_a_builder_would_skip() -> None:
    # Admission builds each task with ``claimed_task``, which runs no checks.
    for field in attrs.fields(RecipientTask):
        assert field.converter is None, field.name
        assert field.validator is None, field.name
    assert not hasattr(RecipientTask, "__attrs_pre_init__")
    assert not hasattr(RecipientTask, "__attrs_post_init__")


@pytest.mark.parametrize("previous", [None, RecipientState.IN_FLIGHT, RecipientState.FAILED])
def test_a_claimed_task_is_what_the_constructor_builds(previous: RecipientState | None) -> None:
    message = Message("+15551234567", "hello")
    task = claimed_task("b-1", 2, 41, message, previous, 3)
    expected = RecipientTask(
        broadcast_id="b-1", run=2, index=41, message=message, previous_state=previous, attempts=3
    )
    assert type(task) is RecipientTask
    assert task == expected
    assert repr(task) == repr(expected)
    assert task.to_dict() == expected.to_dict()
    assert RecipientTask.from_dict(task.to_dict()) == expected
    assert pickle.loads(pickle.dumps(task)) == expected
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.index = 0  # type: ignore[misc]

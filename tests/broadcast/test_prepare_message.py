"""``prepare_message``: what a run computes from a row before journaling it, done up front."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Message, ValidationError
from broadcastio.broadcast import reference_id_for
from broadcastio.broadcast.admission import Admitter, prepare_message, prepare_row
from broadcastio.broadcast.task import PreparedRow, RecipientTask, message_digest
from broadcastio.records.message import Attachment


def test_the_prepared_message_carries_the_derived_reference_id() -> None:
    message = Message("+1555", "hi")
    prepared = prepare_message("daily", message)
    assert prepared.metadata.reference_id == reference_id_for("daily", "+1555")
    assert prepare_message("daily", prepared) is prepared  # preparing twice changes nothing


def test_the_admitter_sends_exactly_what_prepare_message_made() -> None:
    message = Message("+1555", "hi", metadata={"priority": 9})
    (task,), skipped = Admitter("daily", 1, None, retry_failed=False)([(0, message)])
    assert skipped == []
    assert isinstance(task, RecipientTask)
    assert task.message == prepare_message("daily", message)


def test_a_broadcast_id_utf8_cannot_encode_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot be journaled") as caught:
        prepare_message("caf\udce9", Message("+1555", "hi"))
    assert caught.value.details == {"broadcast_id": "caf\udce9", "recipient": "+1555"}


def test_an_attachment_named_with_undecodable_bytes_can_still_be_journaled() -> None:
    """A file name that is not UTF-8 reaches Python with escaped bytes; its fingerprint works."""
    message = Message("+1555", None, attachment=Attachment.from_bytes(b"x", "r\udcffport.pdf"))
    assert prepare_message("daily", message).attachment == message.attachment


@given(broadcast_id=st.text(min_size=1, max_size=20), recipient=st.text(min_size=1, max_size=20))
def test_preparing_either_succeeds_or_names_the_problem(broadcast_id: str, recipient: str) -> None:
    try:
        message = Message(recipient, "hi")
    except ValidationError:
        return  # blank, or text UTF-8 cannot encode: refused where the message is made
    try:
        prepared = prepare_message(broadcast_id, message)
    except ValidationError as error:
        assert error.details["broadcast_id"] == broadcast_id
        with pytest.raises(UnicodeEncodeError):
            broadcast_id.encode("utf-8")
    else:
        assert prepared.recipient == message.recipient


def test_a_prepared_row_is_a_whole_prepared_row() -> None:
    # Built without PreparedRow's own __new__: still the named tuple, field for field.
    message = Message("+1555", "hi")
    row = prepare_row("daily", 7, message)
    assert type(row) is PreparedRow
    assert row == PreparedRow(
        position=7,
        message=prepare_message("daily", message),
        recipient="+1555",
        reference_id=reference_id_for("daily", "+1555"),
        digest=message_digest(prepare_message("daily", message)),
    )
    assert row.position == 7 and row.recipient == "+1555"
    assert row._asdict()["reference_id"] == row.reference_id

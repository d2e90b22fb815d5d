"""``with_reference_id``: a message's copy under a new reference id, made without re-checking it."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Contact, Message, ValidationError
from broadcastio.records.message import (
    MessageMetadata,
    with_checked_reference_id,
    with_reference_id,
)

texts = st.text(
    st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20
).filter(str.strip)

messages = st.builds(
    Message,
    recipient=st.one_of(texts, st.builds(lambda a: Contact({"phone": a}), texts)),
    content=texts,
    metadata=st.builds(
        MessageMetadata,
        priority=st.integers(1, 10),
        tags=st.lists(texts, max_size=3),
        extra=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    ),
    title=st.none() | texts,
)


def checked_copy(message: Message, reference_id: str) -> Message:
    """What the fast copy must equal: attrs' evolve, every check run again."""
    return attrs.evolve(message, metadata=attrs.evolve(message.metadata, reference_id=reference_id))


@pytest.mark.parametrize("copy_of", [with_reference_id, with_checked_reference_id])
@given(message=messages, reference_id=st.text("0123456789abcdef", min_size=32, max_size=32))
def test_the_copy_equals_the_checked_copy(copy_of, message: Message, reference_id: str) -> None:
    # with_checked_reference_id is the same copy for an id known to pass the
    # field's checks (a broadcast's derived ids: 32 hex digits).
    copy = copy_of(message, reference_id)
    assert copy == checked_copy(message, reference_id)
    assert copy.metadata.reference_id == reference_id
    # Its own extra dict: changing one message's extra must not change the other's.
    assert copy.metadata.extra is not message.metadata.extra
    assert message.metadata.reference_id != reference_id or copy is message


def test_the_copy_is_made_without_running_the_checks_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = Message("+15551234567", "hi", metadata={"tags": ["a"], "extra": {"k": 1}})

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("a check ran again")

    # The attrs-generated __init__ of both records runs every converter and check.
    monkeypatch.setattr(Message, "__init__", refuse)
    monkeypatch.setattr(MessageMetadata, "__init__", refuse)
    assert with_reference_id(message, "abc123").metadata.reference_id == "abc123"


def test_every_field_is_copied() -> None:
    # A field added to either record must be added to the copy too; the
    # trusted builders the copy (and default metadata) use take them in this order.
    assert [field.name for field in attrs.fields(Message)] == [
        "recipient",
        "content",
        "metadata",
        "attachment",
        "title",
    ]
    assert [field.name for field in attrs.fields(MessageMetadata)] == [
        "priority",
        "reference_id",
        "tags",
        "extra",
    ]


@pytest.mark.parametrize("bad", ["", "   ", "caf\udce9"])
def test_an_id_that_is_not_plain_text_is_still_checked(bad: str) -> None:
    with pytest.raises(ValidationError):
        with_reference_id(Message("+15551234567", "hi"), bad)

"""The cheap ways a message is made must build what the fully checked ways build.

``Message(recipient, text)`` is made once per row of every broadcast input, so
its common case skips work (issue 15): metadata left out is built from
broadcastio's own defaults without attrs' ``__init__``, its reference id is a
version 4 UUID formatted without ``uuid.UUID``, and plain ASCII text skips the
UTF-8 check's call. These tests hold each shortcut to the slow path it
replaces: the same record (``==``, ``to_dict``, ``repr``) and, for bad input,
the same ``ValidationError``.
"""

from __future__ import annotations

import os
import pickle
import threading
import uuid
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Message, MessageMetadata, ValidationError
from broadcastio.records.ids import new_reference_id, new_uuid4_hex

ID_COUNT = 20_000


class Text(str):
    """A ``str`` subclass: the converters' fast paths take exact ``str`` only, so
    text of this type goes through every check the long way."""


@pytest.mark.parametrize(
    "make", [new_reference_id, lambda: Message("a", "b").metadata.reference_id]
)
def test_reference_ids_are_version_4_uuids_in_their_usual_text_form(make: Any) -> None:
    ids = [make() for _ in range(ID_COUNT)]
    for reference_id in ids:
        parsed = uuid.UUID(reference_id)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        # Exactly str(uuid.uuid4())'s form: lowercase, dashes at 8-4-4-4-12.
        assert str(parsed) == reference_id
    assert len(set(ids)) == ID_COUNT, "a reference id repeated"


def test_the_hex_form_is_uuid4_hex() -> None:
    ids = [new_uuid4_hex() for _ in range(ID_COUNT)]
    for digits in ids:
        parsed = uuid.UUID(hex=digits)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == digits
    assert len(set(ids)) == ID_COUNT


def test_every_random_bit_of_the_uuid_varies() -> None:
    # The 122 bits that are not version or variant must all take both values:
    # a mask or shift in the wrong place would pin some of them.
    fixed = (0xF000 << 64) | (0xC000 << 48)
    seen_set = 0
    seen_clear = 0
    for _ in range(2000):
        value = uuid.UUID(new_reference_id()).int
        seen_set |= value
        seen_clear |= ~value
    free = ~fixed & ((1 << 128) - 1)
    assert seen_set & free == free
    assert seen_clear & free == free


def test_default_metadata_is_made_without_attrs_init(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("MessageMetadata's checks ran on broadcastio's own defaults")

    monkeypatch.setattr(MessageMetadata, "__init__", refuse)
    assert Message("+15551234567", "hello").metadata.priority == 5
    assert MessageMetadata.coerce(None).tags == ()


@pytest.mark.parametrize(
    "make", [lambda: Message("a", "b").metadata, lambda: MessageMetadata.coerce(None)]
)
def test_default_metadata_equals_the_checked_default(make: Any) -> None:
    fast = make()
    checked = MessageMetadata(reference_id=fast.reference_id)
    assert type(fast) is MessageMetadata
    assert fast == checked
    assert repr(fast) == repr(checked)
    assert attrs.asdict(fast) == attrs.asdict(checked)
    assert pickle.loads(pickle.dumps(fast)) == checked
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.priority = 7  # type: ignore[misc]
    # Each message has an extra dict of its own, as the checked default does.
    assert make().extra is not fast.extra


def test_a_subclass_of_metadata_still_gets_its_own_checked_default() -> None:
    @attrs.frozen(unsafe_hash=False)
    class Urgent(MessageMetadata):
        priority: int = 9

    made = Urgent.coerce(None)
    assert type(made) is Urgent and made.priority == 9


# Text of every kind: ASCII, other scripts, whitespace, lone surrogates (which
# UTF-8 cannot encode and the checks refuse).
any_text = st.text(
    st.characters(blacklist_categories=()) | st.sampled_from(" \t\n\u00a0\u2003\ud800"),
    max_size=12,
)


def outcome(make: Any) -> tuple[str, Any]:
    """What building gives: the record's data, or the ValidationError's text and details."""
    try:
        message = make()
    except ValidationError as error:
        return ("error", (str(error), getattr(error, "details", None)))
    return ("record", message)


@given(recipient=any_text, content=st.none() | any_text, title=st.none() | any_text)
def test_fast_paths_build_what_the_checked_paths_build(
    recipient: str, content: str | None, title: str | None
) -> None:
    metadata = MessageMetadata()
    fast = outcome(lambda: Message(recipient, content, title=title))
    slow = outcome(
        lambda: Message(
            Text(recipient),
            None if content is None else Text(content),
            metadata=metadata,
            title=None if title is None else Text(title),
        )
    )
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "error":
        assert fast[1] == slow[1]
        return
    made, checked = fast[1], slow[1]
    # The same fields apart from the fresh reference id each message gets.
    made = attrs.evolve(made, metadata=metadata)
    assert made == checked
    assert made.to_dict() == checked.to_dict()
    assert repr(made) == repr(checked)
    assert type(made.recipient) is str


def test_threads_making_ids_together_never_get_the_same_random_bytes() -> None:
    # The random bytes are read a block at a time and handed out in slices:
    # threads racing over the same block, and over its refill, must each
    # get slices of their own.
    made: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(made))

    def make(into: list[str]) -> None:
        start.wait()
        for _ in range(5000):
            into.append(new_reference_id())
            into.append(new_uuid4_hex())

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [uuid.UUID(made_id).int for into in made for made_id in into]
    assert len(set(every)) == len(every) == 8 * 10_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_repeats_its_parents_ids() -> None:
    # The child inherits the parent's block of random bytes: it must drop it,
    # or parent and child hand out the same ids next.
    new_reference_id()  # a block is read, and most of it is still unused
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            ids = "\n".join(new_reference_id() for _ in range(100))
            os.write(writer, ids.encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child_ids = set(pipe.read().split())
    os.waitpid(child, 0)
    parent_ids = {new_reference_id() for _ in range(100)}
    assert len(child_ids) == 100
    assert not child_ids & parent_ids

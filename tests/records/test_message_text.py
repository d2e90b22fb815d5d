"""A ``Message`` holds only text that UTF-8 can encode: what every provider and store needs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Message, ValidationError
from broadcastio.records.message import MessageMetadata


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: Message("+1555\ud800", "hi"), "recipient"),
        (lambda: Message("+1555", "caf\udce9"), "content"),
        (lambda: Message("+1555", "hi", metadata={"reference_id": "r\udfff"}), "reference_id"),
        (lambda: MessageMetadata(tags=("ok", "b\ud834")), "tags"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(build, field: str) -> None:
    with pytest.raises(ValidationError, match=f"^{field} is not valid Unicode text") as caught:
        build()
    assert caught.value.details["field"] == field


def test_the_error_says_where_the_surrogate_is() -> None:
    with pytest.raises(ValidationError, match=r"character 4 is a lone surrogate \(U\+D800\)"):
        Message("+1", "Hi \ud800!")


@given(st.text(min_size=1))
def test_any_text_is_either_a_message_that_encodes_or_refused(text: str) -> None:
    encodable = not any(0xD800 <= ord(char) <= 0xDFFF for char in text)
    try:
        message = Message("+1555", "x" + text)
    except ValidationError as error:
        assert not encodable
        assert error.details["field"] == "content"
    else:
        assert encodable
        assert message.content == "x" + text

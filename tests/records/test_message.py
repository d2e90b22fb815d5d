"""Message, metadata and attachment: validation and normalization."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Attachment, Message, MessageMetadata, ValidationError

text = st.text(min_size=1).filter(lambda s: s.strip())
json_scalars = st.none() | st.booleans() | st.integers() | st.text()


@pytest.mark.parametrize("recipient", ["", "   ", "\n\t"])
def test_blank_recipient_is_rejected(recipient: str) -> None:
    with pytest.raises(ValidationError, match="recipient"):
        Message(recipient, "hi")


def test_recipient_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="recipient must be a string"):
        Message(15551234567, "hi")  # type: ignore[arg-type]


@pytest.mark.parametrize("content", [None, "", "  "])
def test_message_without_content_or_attachment_is_rejected(content: str | None) -> None:
    with pytest.raises(ValidationError, match="content, an attachment, or both"):
        Message("+1555", content)


def test_attachment_alone_is_enough() -> None:
    message = Message("+1555", None, attachment=Attachment.from_bytes(b"x", "a.txt"))
    assert message.content is None


@given(recipient=text, content=text)
def test_recipient_is_stripped_and_content_kept(recipient: str, content: str) -> None:
    message = Message(f"  {recipient}  ", content)
    assert message.recipient == recipient.strip()
    assert message.content == content


def test_metadata_defaults() -> None:
    metadata = Message("+1555", "hi").metadata
    assert metadata.priority == 5
    assert metadata.tags == ()
    assert metadata.extra == {}
    assert uuid.UUID(metadata.reference_id).version == 4


def test_each_message_gets_its_own_reference_id() -> None:
    assert Message("a", "x").metadata.reference_id != Message("a", "x").metadata.reference_id


@given(
    priority=st.integers(1, 10),
    reference_id=text,
    tags=st.lists(text, max_size=4),
    extra=st.dictionaries(st.text(), json_scalars, max_size=4),
    unknown=st.dictionaries(
        st.text().filter(lambda k: k not in {"priority", "reference_id", "tags", "extra"}),
        json_scalars,
        max_size=4,
    ),
)
def test_metadata_dict_maps_known_keys_and_keeps_unknown_ones_in_extra(
    priority: int, reference_id: str, tags: list[str], extra: dict, unknown: dict
) -> None:
    data = {"priority": priority, "reference_id": reference_id, "tags": tags, **unknown}
    if extra:
        data["extra"] = extra
    metadata = Message("+1555", "hi", metadata=data).metadata
    assert isinstance(metadata, MessageMetadata)
    assert metadata.priority == priority
    assert metadata.reference_id == reference_id
    assert metadata.tags == tuple(tags)
    assert metadata.extra == {**unknown, **extra}


def test_metadata_instance_is_kept() -> None:
    metadata = MessageMetadata(priority=9, tags=["ops"])
    assert Message("+1555", "hi", metadata=metadata).metadata is metadata


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"priority": 0}, "priority must be between 1 and 10"),
        ({"priority": "high"}, "priority must be an integer"),
        ({"priority": True}, "priority must be an integer"),
        ({"reference_id": ""}, "reference_id"),
        ({"tags": "ops"}, "tags must be a list"),
        ({"tags": None}, "tags must be a list"),
        ({"tags": 5}, "tags must be a list"),
        ({"tags": [""]}, "tags must be non-empty"),
        ({"extra": []}, "extra"),
        ("urgent", "metadata must be"),
    ],
)
def test_bad_metadata_names_the_field(metadata: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Message("+1555", "hi", metadata=metadata)  # type: ignore[arg-type]


def test_path_attachment_defaults_filename_and_mime_type(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF")
    attachment = Attachment(report)
    assert attachment.filename == "report.pdf"
    assert attachment.mime_type == "application/pdf"
    assert attachment.read_bytes() == b"%PDF"


def test_string_path_and_explicit_names(tmp_path: Path) -> None:
    attachment = Attachment(str(tmp_path / "x.bin"), filename="chart.png", mime_type="image/png")
    assert attachment.path == tmp_path / "x.bin"
    assert (attachment.filename, attachment.mime_type) == ("chart.png", "image/png")


def test_unknown_extension_is_octet_stream() -> None:
    assert Attachment.from_bytes(b"x", "data.zzz-unknown").mime_type == "application/octet-stream"


def test_in_memory_attachment() -> None:
    attachment = Attachment.from_bytes(b"\x00\x01", "chart.png")
    assert attachment.read_bytes() == b"\x00\x01"
    assert attachment.mime_type == "image/png"
    attachment.ensure_readable()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of a path or data"),
        ({"path": "a.txt", "data": b"x"}, "exactly one of a path or data"),
        ({"data": b"x"}, "needs a filename"),
        ({"data": b"x", "filename": "../etc/passwd"}, "must not contain a path"),
        ({"data": "text", "filename": "a.txt"}, "data must be bytes"),
        ({"data": b"x", "filename": "a.txt", "mime_type": "png"}, "type/subtype"),
    ],
)
def test_bad_attachments_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Attachment(**kwargs)


def test_message_rejects_a_non_attachment() -> None:
    with pytest.raises(ValidationError, match="attachment must be an Attachment"):
        Message("+1555", "hi", attachment="report.pdf")  # type: ignore[arg-type]


messages = st.builds(
    Message,
    recipient=text,
    content=text,
    metadata=st.builds(
        MessageMetadata,
        priority=st.integers(1, 10),
        reference_id=text,
        tags=st.lists(text, max_size=3),
        extra=st.dictionaries(st.text(), json_scalars, max_size=3),
    ),
    attachment=st.none()
    | st.builds(Attachment.from_bytes, st.binary(max_size=64), st.sampled_from(["a.png", "b.txt"])),
)


@given(messages)
def test_message_round_trips_through_dict(message: Message) -> None:
    import json

    data = json.loads(json.dumps(message.to_dict()))
    assert Message.from_dict(data) == message


def test_message_from_bad_dict_names_the_field() -> None:
    with pytest.raises(ValidationError, match="recipient"):
        Message.from_dict({"content": "hi"})
    with pytest.raises(ValidationError, match="unknown field"):
        Message.from_dict({"recipient": "x", "content": "hi", "colour": "red"})


def test_from_dict_takes_metadata_like_the_constructor() -> None:
    assert (
        Message.from_dict({"recipient": "x", "content": "y", "metadata": None}).metadata.priority
        == 5
    )
    loose = Message.from_dict({"recipient": "x", "content": "y", "metadata": {"team": "ops"}})
    assert loose.metadata.extra == {"team": "ops"}
    with pytest.raises(ValidationError, match="metadata: tags must be a list"):
        Message.from_dict({"recipient": "x", "content": "y", "metadata": {"tags": "ab"}})


def test_records_holding_dicts_are_explicitly_unhashable() -> None:
    with pytest.raises(TypeError, match="unhashable type: 'Message'"):
        hash(Message("+1555", "hi"))

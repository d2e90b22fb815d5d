"""Messages: who gets what, with which metadata and attachment."""

from __future__ import annotations

import mimetypes
import warnings
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import attrs

from broadcastio.records.checks import check_int, check_iterable
from broadcastio.records.contact import Contact
from broadcastio.records.ids import new_reference_id
from broadcastio.records.serialization import JsonRecord, converter
from broadcastio.records.trusted import trusted_builder
from broadcastio.errors import AttachmentError, ValidationError

__all__ = ["Attachment", "Contact", "Message", "MessageMetadata"]

_DEFAULT_MIME_TYPE = "application/octet-stream"
PRIORITY_RANGE = range(1, 11)
DEFAULT_PRIORITY = 5


def _to_tags(value: Iterable[str]) -> tuple[str, ...]:
    tags = tuple(check_iterable("tags", value, "strings"))
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise ValidationError(f"tags must be non-empty strings, got {tag!r}")
        _check_utf8("tags", tag)
    return tags


def _to_extra(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(f"extra must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(f"extra keys must be strings, got {key!r}")
    return dict(value)


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class MessageMetadata:
    """Bookkeeping that travels with a message but is not part of what the recipient sees.

    ``reference_id`` identifies the message across retries, fallbacks and process
    restarts; providers derive idempotency keys from it, so two sends of the same
    ``Message`` object are recognisably the same message. ``priority`` runs from 1
    (lowest) to 10 (highest). ``extra`` holds anything else the caller wants to keep
    (it is where unknown keys of a metadata dict end up).
    """

    priority: int = DEFAULT_PRIORITY
    reference_id: str = attrs.field(factory=new_reference_id)
    tags: tuple[str, ...] = attrs.field(default=(), converter=_to_tags)
    extra: dict[str, Any] = attrs.field(factory=dict, converter=_to_extra)

    def __attrs_post_init__(self) -> None:
        check_int("priority", self.priority)
        if self.priority not in PRIORITY_RANGE:
            raise ValidationError(f"priority must be between 1 and 10, got {self.priority}")
        if not isinstance(self.reference_id, str) or not self.reference_id.strip():
            raise ValidationError(
                f"reference_id must be a non-empty string, got {self.reference_id!r}"
            )
        _check_utf8("reference_id", self.reference_id)

    @classmethod
    def coerce(cls, value: MessageMetadata | Mapping[str, Any] | None) -> MessageMetadata:
        """Accept metadata as an instance, a dict, or ``None`` (all defaults).

        A dict's known keys fill the matching fields; every other key goes into
        ``extra`` (merged with an explicit ``extra`` key, explicit keys winning), so
        nothing the caller wrote is dropped.
        """
        if value is None:
            return _default_metadata() if cls is MessageMetadata else cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"metadata must be a MessageMetadata, a dict or None, got {type(value).__name__}"
            )
        known: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"metadata keys must be strings, got {key!r}")
            if key in ("priority", "reference_id", "tags"):
                known[key] = item
            elif key != "extra":
                unknown[key] = item
        extra = value.get("extra", {})
        if not isinstance(extra, Mapping):
            raise ValidationError(f"metadata 'extra' must be a mapping, got {type(extra).__name__}")
        return cls(**known, extra={**unknown, **extra})


_trusted_metadata: Callable[[int, str, tuple[str, ...], dict[str, Any]], MessageMetadata] = (
    trusted_builder(MessageMetadata)
)


def _default_metadata() -> MessageMetadata:
    """``MessageMetadata()``, built without attrs' ``__init__``.

    Every message made without metadata (nearly all of them: one per row of a
    broadcast's input) gets this. Each of its fields is a default broadcastio
    made itself (the priority, a fresh version 4 UUID, no tags, a new empty
    dict), so the converters and checks would only check broadcastio's own
    values. Those checks and ``str(uuid.uuid4())`` were about 60% of the cost
    of ``Message(recipient, text)`` (issue 15). Tests hold it equal to what
    ``MessageMetadata()`` builds.
    """
    return _trusted_metadata(DEFAULT_PRIORITY, new_reference_id(), (), {})


_UNSET: Any = object()


@attrs.frozen(init=False)
class Attachment:
    """A file to send with a message: from a path on disk, or from bytes in memory.

    ``filename`` defaults to the path's name and ``mime_type`` is guessed from the
    filename (``application/octet-stream`` when unknown). A path attachment is read
    when a provider sends it, not when it is created, and the orchestrator checks
    that the file exists before any attempt; use :meth:`from_bytes` for content
    that is not on disk (or is on another host's disk).

    0.3.0a2's keywords still work, with a ``DeprecationWarning``: ``host_path`` is
    ``path``, and ``provider_path`` (where the bridge's container would find the
    file) is ignored, because providers now send the file's bytes.
    """

    path: Path | None = attrs.field(default=None)
    filename: str | None = None
    mime_type: str | None = None
    data: bytes | None = attrs.field(default=None, kw_only=True, repr=False)

    def __init__(
        self,
        path: str | PathLike[str] | None = None,
        filename: str | None = None,
        mime_type: str | None = None,
        *,
        data: bytes | None = None,
        host_path: str | PathLike[str] | None = _UNSET,
        provider_path: str | PathLike[str] | None = _UNSET,
    ) -> None:
        # A hand-written __init__ only to accept the 0.3.0a2 keywords; attrs still
        # builds the fields (__attrs_init__) and runs the checks below.
        if host_path is not _UNSET:
            if path is not None:
                raise ValidationError(
                    "give the attachment's path as path (or host_path, its 0.3.0a2 name), "
                    "not both"
                )
            warnings.warn(
                "Attachment(host_path=...) is deprecated: use Attachment(path=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            path = host_path
        if provider_path is not _UNSET:
            warnings.warn(
                f"Attachment(provider_path={provider_path!r}) is ignored: the provider now "
                "sends the file's bytes to the bridge, which no longer reads paths; "
                "drop provider_path",
                DeprecationWarning,
                stacklevel=2,
            )
        self.__attrs_init__(path, filename, mime_type, data=data)  # type: ignore[arg-type]

    def __attrs_post_init__(self) -> None:
        path = self.path
        if path is not None and not isinstance(path, Path):
            if not isinstance(path, (str, PathLike)) or not str(path):
                raise ValidationError(f"attachment path must be a path or string, got {path!r}")
            path = Path(path)
            object.__setattr__(self, "path", path)
        if (path is None) == (self.data is None):
            raise ValidationError("an attachment needs exactly one of a path or data")
        if self.data is not None and not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise ValidationError(f"attachment data must be bytes, got {type(self.data).__name__}")
        if self.data is not None and not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        filename = self.filename
        if filename is None:
            if path is None:
                raise ValidationError("an in-memory attachment needs a filename")
            filename = path.name
        if not isinstance(filename, str) or not filename.strip():
            raise ValidationError(
                f"attachment filename must be a non-empty string, got {filename!r}"
            )
        if "/" in filename or "\\" in filename:
            hint = ""
            if filename.startswith("/"):
                # Attachment(host_path, provider_path, filename) was the 0.3.0a2 order.
                hint = "; 0.3.0a2's Attachment(host_path, provider_path) is Attachment(path) now"
            raise ValidationError(
                f"attachment filename must not contain a path: {filename!r}{hint}"
            )
        object.__setattr__(self, "filename", filename)
        if self.mime_type is None:
            guessed, _ = mimetypes.guess_type(filename)
            object.__setattr__(self, "mime_type", guessed or _DEFAULT_MIME_TYPE)
        elif not isinstance(self.mime_type, str) or "/" not in self.mime_type:
            raise ValidationError(
                f"mime_type must look like 'type/subtype', got {self.mime_type!r}"
            )

    @classmethod
    def from_bytes(cls, data: bytes, filename: str, mime_type: str | None = None) -> Attachment:
        """An attachment whose content is already in memory (a generated report, a chart)."""
        return cls(filename=filename, mime_type=mime_type, data=data)

    def ensure_readable(self) -> None:
        """Raise ``AttachmentError`` unless the content can be read right now."""
        if self.path is not None and not self.path.is_file():
            raise AttachmentError(
                f"attachment file not found or not a regular file: {self.path}",
                details={"path": str(self.path)},
            )

    def read_bytes(self) -> bytes:
        """The attachment's content; raises ``AttachmentError`` if its file cannot be read."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise AttachmentError(
                f"cannot read attachment {self.path}: {exc.strerror or exc}",
                details={"path": str(self.path)},
            ) from exc


def _to_metadata(value: MessageMetadata | Mapping[str, Any] | None) -> MessageMetadata:
    # None first: the common case skips coerce's call and its class checks.
    if value is None:
        return _default_metadata()
    return MessageMetadata.coerce(value)


# from_dict accepts metadata the way the constructor does: None, or a dict whose
# unknown keys go to ``extra``.
converter.register_structure_hook(MessageMetadata, lambda value, _: MessageMetadata.coerce(value))


def _check_utf8(name: str, value: str) -> str:
    """``value`` if it can be encoded as UTF-8; a ``ValidationError`` naming ``name`` if not.

    Python strings may hold lone surrogates (``"\\ud800"`` in JSON, bytes that are
    not UTF-8 in a command-line argument), which UTF-8 cannot encode. Every wire
    format a provider speaks and every store (the journal's SQLite, JSON results,
    the idempotency key's hash) encodes text as UTF-8, so such a string would
    fail somewhere in the middle of a send or a broadcast. It is refused here,
    where the message is made, so the caller hears about it first.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{name} is not valid Unicode text: character {exc.start + 1} is a lone "
            f"surrogate (U+{ord(value[exc.start]):04X}), which cannot be encoded as UTF-8",
            details={"field": name, "position": exc.start},
        ) from None
    return value


def _to_recipient(value: str | Contact | Mapping[str, str]) -> str | Contact:
    # The plain string first: it is by far the common case, and costs one type check.
    if type(value) is not str:
        if isinstance(value, Contact):
            return value
        if isinstance(value, Mapping):
            return Contact(value)
        if not isinstance(value, str):
            raise ValidationError(
                "recipient must be a string, a Contact or a mapping of address kinds to "
                f"addresses, got {type(value).__name__}"
            )
    # ASCII text is always valid UTF-8: only other text needs _check_utf8's call.
    recipient = (value if value.isascii() else _check_utf8("recipient", value)).strip()
    if not recipient:
        raise ValidationError("recipient must not be empty or blank")
    return recipient


def _to_content(value: str | None) -> str | None:
    # Plain ASCII text first, the common case: valid UTF-8 with no call to check it.
    if type(value) is str and value.isascii():
        return value if value.strip() else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"content must be a string or None, got {type(value).__name__}")
    _check_utf8("content", value)
    # Blank text is no content: sending only whitespace is never what the caller meant.
    return value if value.strip() else None


def _to_title(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"title must be a string or None, got {type(value).__name__}")
    _check_utf8("title", value)
    # A subject line is one line: a newline in it would end the header it goes in.
    title = " ".join(value.split())
    return title or None


def _structure_recipient(value: Any, _: Any) -> str | Contact:
    """A serialized recipient: a string, or a contact's ``{"addresses": ..., "id": ...}``."""
    if isinstance(value, (str, Contact)):
        return value
    if isinstance(value, Mapping):
        if set(value) - {"addresses", "id"} or "addresses" not in value:
            raise ValidationError(
                "a serialized contact is {\"addresses\": {kind: address}, \"id\": ...}, "
                f"got the keys {sorted(value)}"
            )
        return Contact(value["addresses"], value.get("id"))
    raise ValidationError(
        f"recipient must be a string or a contact, got {type(value).__name__}"
    )


converter.register_structure_hook_func(
    lambda kind: kind == (str | Contact), _structure_recipient
)
converter.register_unstructure_hook(
    Contact, lambda contact: {"addresses": dict(contact.addresses), "id": contact.id}
)


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class Message(JsonRecord):
    """One message for one recipient.

    The recipient is either one address, a string used as it is by every
    provider (stripped of surrounding whitespace, never blank), or a
    ``Contact``: one person with an address per kind (``{"phone": "+62...",
    "email": "ops@example.com"}``; a mapping is made into a ``Contact``). The
    orchestrator hands each provider the address of the kind it declares
    (``MessageProvider.address_kind``) and passes over providers the contact
    has no address for. A plain address's format is the provider's business.

    The message needs text ``content``, an ``attachment``, or both (with both,
    the text is the caption). ``title`` is an optional one-line title: the
    email subject; providers without titles document what they do with it.
    ``metadata`` may be a ``MessageMetadata``, a dict, or ``None``.
    """

    recipient: str | Contact = attrs.field(converter=_to_recipient)
    content: str | None = attrs.field(converter=_to_content)
    metadata: MessageMetadata = attrs.field(default=None, converter=_to_metadata)
    attachment: Attachment | None = None
    title: str | None = attrs.field(default=None, converter=_to_title)

    def __attrs_post_init__(self) -> None:
        if self.attachment is not None and not isinstance(self.attachment, Attachment):
            raise ValidationError(
                f"attachment must be an Attachment, got {type(self.attachment).__name__}"
            )
        if self.content is None and self.attachment is None:
            raise ValidationError("a message needs content, an attachment, or both")


_trusted_message: Callable[
    [str | Contact, str | None, MessageMetadata, Attachment | None, str | None], Message
] = trusted_builder(Message)


def with_reference_id(message: Message, reference_id: str) -> Message:
    """``message`` with ``metadata.reference_id`` replaced (the same object if it already is).

    A broadcast gives every row a derived reference id, a million times per
    million rows. ``attrs.evolve`` would run every converter and check of
    ``Message`` and ``MessageMetadata`` again on values that were checked when
    ``message`` was made; only the new id is new, so only the id is checked
    here (a non-blank ASCII string passes every check the field has), and the
    copy is made by the trusted builders (``records.trusted``), a third of
    the cost of setting each field with ``object.__setattr__``. Any other id
    goes through the full checks.
    """
    if not (type(reference_id) is str and reference_id.isascii() and reference_id.strip()):
        if message.metadata.reference_id == reference_id:
            return message
        metadata = attrs.evolve(message.metadata, reference_id=reference_id)
        return attrs.evolve(message, metadata=metadata)
    return with_checked_reference_id(message, reference_id)


def with_checked_reference_id(message: Message, reference_id: str) -> Message:
    """``with_reference_id`` for an id known to pass its checks: a non-blank ASCII ``str``.

    For broadcastio's own ids, such as a broadcast's derived ones (32 hex
    digits, once per row): the checks that ``with_reference_id`` makes first
    cost a tenth of the copy.
    """
    metadata = message.metadata
    if metadata.reference_id == reference_id:
        return message
    extra = metadata.extra
    return _trusted_message(
        message.recipient,
        message.content,
        _trusted_metadata(
            metadata.priority,
            reference_id,
            metadata.tags,
            # A dict of its own, as the checked copy would have: the two must not share one.
            dict(extra) if extra else {},
        ),
        message.attachment,
        message.title,
    )

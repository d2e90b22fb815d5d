"""What a message becomes: the Bot API calls that carry it, in the order they are made.

A text is one ``sendMessage`` per part (see ``splitting``); an attachment is one
``sendPhoto`` or ``sendDocument`` (see ``attachments``), captioned with the text
when it fits in a caption, else made after the text's messages. The title is
the first line, in bold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from broadcastio import Message
from broadcastio_telegram.attachments import DOCUMENT_MAX_BYTES, is_photo
from broadcastio_telegram.settings import TelegramSettings
from broadcastio_telegram.splitting import (
    CAPTION_LIMIT,
    TITLE_LIMIT,
    Unsplittable,
    escape_html,
    escape_markdown_v2,
    split_text,
    utf16_length,
)

__all__ = ["BotApiCall", "Unsendable", "build_calls", "chat_id_of"]

_NUMERIC_CHAT = re.compile(r"-?[0-9]{1,20}\Z")
_USERNAME_CHAT = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}\Z")


def chat_id_of(address: str) -> int | str | None:
    """The ``chat_id`` to send to: a number (users, groups, ``-100...`` channels) or ``@name``.

    ``None`` for anything else, which no chat can be addressed by.
    """
    address = address.strip()
    if _NUMERIC_CHAT.match(address):
        return int(address)
    if _USERNAME_CHAT.match(address):
        return address
    return None


class BotApiCall:
    """One Bot API call of a message: the method, its fields, and a file to upload.

    ``fields`` are sent as JSON without a file, as ``multipart/form-data``
    fields (strings) with one; ``file`` is (field name, file name, content,
    MIME type).
    """

    __slots__ = ("fields", "file", "method")

    def __init__(
        self,
        method: str,
        fields: dict[str, Any],
        file: tuple[str, str, bytes, str] | None = None,
    ) -> None:
        self.method = method
        self.fields = fields
        self.file = file

    def __repr__(self) -> str:
        return f"<BotApiCall {self.method} fields={sorted(self.fields)}>"


class Unsendable(Exception):
    """The message cannot become Bot API calls (a file too large, text that cannot be cut)."""


def build_calls(
    message: Message, chat_id: int | str, settings: TelegramSettings
) -> list[BotApiCall]:
    """The calls ``message`` becomes for ``chat_id``, in order.

    Raises ``AttachmentError`` for an unreadable file and ``Unsendable`` for
    a message the Bot API could not take.
    """
    parse_mode = settings.parse_mode
    text, bold_length = _compose(message, parse_mode)
    common: dict[str, Any] = {"chat_id": chat_id}
    if parse_mode is not None:
        common["parse_mode"] = parse_mode
    if settings.disable_notification:
        common["disable_notification"] = True
    if settings.protect_content:
        common["protect_content"] = True
    file_call: BotApiCall | None = None
    attachment = message.attachment
    if attachment is not None:
        data = attachment.read_bytes()
        mime_type = attachment.mime_type or "application/octet-stream"
        photo = is_photo(data, mime_type)
        if not photo and len(data) > DOCUMENT_MAX_BYTES:
            raise Unsendable(
                f"the attachment {attachment.filename!r} has {len(data)} bytes; the Bot API "
                f"takes files of at most {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB"
            )
        fields = _form_fields(common)
        if text is not None and utf16_length(text) <= CAPTION_LIMIT:
            fields["caption"] = text
            if bold_length:
                fields["caption_entities"] = json.dumps(
                    [{"type": "bold", "offset": 0, "length": bold_length}]
                )
            text = None
        assert attachment.filename is not None
        file_call = BotApiCall(
            "sendPhoto" if photo else "sendDocument",
            fields,
            ("photo" if photo else "document", attachment.filename, data, mime_type),
        )
    calls: list[BotApiCall] = []
    if text is not None:
        try:
            chunks = split_text(text, parse_mode=parse_mode)
        except Unsplittable as error:
            raise Unsendable(str(error)) from None
        for number, chunk in enumerate(chunks):
            fields = {**common, "text": chunk}
            if settings.disable_link_preview:
                fields["link_preview_options"] = {"is_disabled": True}
            if number == 0 and bold_length:
                length = min(bold_length, utf16_length(chunk))
                fields["entities"] = [{"type": "bold", "offset": 0, "length": length}]
            calls.append(BotApiCall("sendMessage", fields))
    if file_call is not None:
        calls.append(file_call)
    return calls


def _compose(message: Message, parse_mode: str | None) -> tuple[str | None, int]:
    """The text to send, with the title as a bold first line; and the title's bold length.

    The bold length (UTF-16 code units) is for plain text, where the title is
    made bold with an entity so that nothing in the content is interpreted;
    in ``HTML`` and ``MarkdownV2`` the title is escaped and wrapped in the
    mode's own bold markup instead (the length is then 0).
    """
    content = message.content
    title = message.title
    if title is None:
        return content, 0
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1] + "…"
    rest = "" if content is None else "\n" + content
    if parse_mode == "HTML":
        return f"<b>{escape_html(title)}</b>{rest}", 0
    if parse_mode == "MarkdownV2":
        return f"*{escape_markdown_v2(title)}*{rest}", 0
    return title + rest, utf16_length(title)


def _form_fields(common: Mapping[str, Any]) -> dict[str, Any]:
    """``common`` as multipart form fields: every value a string, booleans as ``true``."""
    return {key: "true" if value is True else str(value) for key, value in common.items()}

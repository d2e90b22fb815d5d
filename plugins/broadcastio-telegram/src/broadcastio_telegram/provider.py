"""``TelegramProvider``: a message as one or more Bot API calls, sent in order."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from broadcastio import (
    AttachmentError,
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
)
from broadcastio.providers.base import settings_from_arguments
from broadcastio_telegram.attachments import DOCUMENT_MAX_BYTES, is_photo
from broadcastio_telegram.outcomes import (
    failure_from_response,
    health_problem,
    message_id_from,
    result_from_exception,
)
from broadcastio_telegram.redaction import REDACTED_TOKEN, register_token, scrub
from broadcastio_telegram.settings import DEFAULT_API_BASE, TOKEN_ENV, TelegramSettings
from broadcastio_telegram.splitting import (
    CAPTION_LIMIT,
    TITLE_LIMIT,
    Unsplittable,
    escape_html,
    escape_markdown_v2,
    split_text,
    utf16_length,
)

if TYPE_CHECKING:
    import requests

__all__ = ["RESUME_MEMORY", "TelegramProvider", "chat_id_of"]

logger = logging.getLogger("broadcastio")

RESUME_MEMORY = 10_000
"""How many partly sent messages a provider remembers, to resume them on retry.

Only messages cut short between parts are kept (a finished one is forgotten at
once), so the bound is reached only when that many messages failed half-way
and were never retried; the oldest is then forgotten, and a later retry of it
sends every part again."""

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


class _Part:
    """One Bot API call of a message: the method, its fields, and a file to upload."""

    __slots__ = ("fields", "file", "method")

    def __init__(
        self,
        method: str,
        fields: dict[str, Any],
        file: tuple[str, str, bytes, str] | None = None,
    ) -> None:
        self.method = method
        self.fields = fields
        # (field name, file name, content, MIME type)
        self.file = file


class _Unsendable(Exception):
    """The message cannot become Bot API calls (a file too large, text that cannot be cut)."""


class _Progress:
    """Message ids of the parts already delivered, per partly sent message; thread-safe."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._sent: OrderedDict[str, list[int]] = OrderedDict()

    def sent(self, key: str) -> list[int]:
        with self._lock:
            return list(self._sent.get(key, ()))

    def remember(self, key: str, message_ids: list[int]) -> None:
        with self._lock:
            self._sent[key] = list(message_ids)
            self._sent.move_to_end(key)
            while len(self._sent) > self._capacity:
                self._sent.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._sent.pop(key, None)


class TelegramProvider(MessageProvider):
    """Delivers through a Telegram bot, with the Bot API's ``sendMessage``,
    ``sendPhoto`` and ``sendDocument``.

    The recipient address (kind ``telegram``) is a chat id: a number (a user
    who has started the bot, a group, a ``-100...`` channel) or a public
    channel's ``@username``. The title becomes a bold first line. A text over
    4,096 characters goes out as several messages, in order (see
    ``broadcastio_telegram.splitting``). An attachment goes out as a photo
    (JPEG/PNG within Telegram's photo limits) or else as a document, with the
    text as its caption when it fits in 1,024 characters; a longer text is
    sent first, as messages of its own, and the file after it.

    A message of several parts that fails after some of them were delivered
    is a failure whose details say which (``parts_sent``,
    ``sent_message_ids``); the provider remembers the delivered parts, and a
    retry of the same message (same reference id, chat and content) through
    the same provider resumes at the part that failed instead of sending the
    first ones again. A fallback to another channel sends the whole message
    there: the details say what the reader already has on Telegram.

    One ``requests.Session`` per provider, safe to share between sending
    threads (``pool_size`` keep-alive connections); ``close()`` closes it,
    after which every call fails without connecting. Every outcome is a
    ``DeliveryResult``; nothing is retried here. The bot token is part of the
    request path and never appears in results, health, logs or errors.
    """

    name = "telegram"
    address_kind: ClassVar[str | None] = "telegram"
    settings_type = TelegramSettings

    def __init__(
        self,
        settings: TelegramSettings | None = None,
        /,
        *,
        name: str | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings_from_arguments(
            TelegramSettings, settings, overrides, owner="TelegramProvider"
        ).with_environment(os.environ)
        if settings.token is None:
            raise ConfigurationError(
                f"TelegramProvider needs token (or {TOKEN_ENV}): the bot's token from BotFather",
                field="token",
            )
        if name is not None:
            # ``name`` is a class attribute on MessageProvider; an instance's own
            # name (``[providers.alerts-tg]``) shadows it for this object only.
            self.__dict__["name"] = name
        register_token(settings.token)
        self.settings = settings
        self.retry_policy = settings.retry_policy
        self.api_base = (settings.api_base or DEFAULT_API_BASE).rstrip("/")
        self._token: str = settings.token
        self._closed = False
        self._progress = _Progress(RESUME_MEMORY)
        import requests
        from requests.adapters import HTTPAdapter

        self._request_error = requests.RequestException
        self._session: requests.Session = requests.Session()
        # No transport-level retries: retrying is the orchestrator's decision.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Accept"] = "application/json"

    def __repr__(self) -> str:
        return f"<TelegramProvider {self.name!r} api_base={self.api_base!r}>"

    @classmethod
    def configured_by_environment(cls, environ: Mapping[str, str]) -> bool:
        """True when ``BROADCASTIO_TELEGRAM_TOKEN`` is set (non-empty): a bot to send as."""
        return bool(environ.get(TOKEN_ENV))

    def shown_url(self, method: str) -> str:
        """The URL of a Bot API method as it may be shown: the token replaced by ``<token>``."""
        return f"{self.api_base}/bot{REDACTED_TOKEN}/{method}"

    # -- sending -------------------------------------------------------------

    def send(self, message: Message) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.failed(
                self.name, ErrorCode.PROVIDER_UNAVAILABLE, _CLOSED, api_base=self.api_base
            )
        address = self.address_of(message)
        chat_id = chat_id_of(address)
        if chat_id is None:
            return DeliveryResult.failed(
                self.name,
                ErrorCode.INVALID_RECIPIENT,
                f"{address!r} is not a Telegram chat id: expected a number like 123456789 "
                "or -1001234567890, or a public channel's @username",
                recipient=address,
            )
        try:
            parts = self.build_parts(message, chat_id)
        except AttachmentError as error:
            return DeliveryResult.failed(
                self.name, ErrorCode.ATTACHMENT_NOT_FOUND, error.message, **error.details
            )
        except _Unsendable as error:
            return DeliveryResult.failed(self.name, ErrorCode.INVALID_MESSAGE, str(error))
        key = _progress_key(message, address, parts)
        sent = self._progress.sent(key)
        resumed_at = len(sent) + 1 if sent else None
        for index in range(len(sent), len(parts)):
            outcome = self._call(parts[index], address)
            if isinstance(outcome, DeliveryResult):
                if sent:
                    self._progress.remember(key, sent)
                return self._part_failure(outcome, index, len(parts), sent)
            sent.append(outcome)
        self._progress.forget(key)
        details: dict[str, Any] = {"chat_id": chat_id, "parts": len(parts), "message_ids": sent}
        if resumed_at is not None:
            details["resumed_at_part"] = resumed_at
        return DeliveryResult.delivered(self.name, str(sent[0]), **details)

    def build_parts(self, message: Message, chat_id: int | str) -> list[_Part]:
        """The Bot API calls ``message`` becomes, in the order they are made.

        Public so a caller can see what a message becomes without a server
        (a preview, a test). Raises ``AttachmentError`` for an unreadable file.
        """
        settings = self.settings
        parse_mode = settings.parse_mode
        text, bold_length = _compose(message, parse_mode)
        common: dict[str, Any] = {"chat_id": chat_id}
        if parse_mode is not None:
            common["parse_mode"] = parse_mode
        if settings.disable_notification:
            common["disable_notification"] = True
        if settings.protect_content:
            common["protect_content"] = True
        parts: list[_Part] = []
        file_part: _Part | None = None
        attachment = message.attachment
        if attachment is not None:
            data = attachment.read_bytes()
            mime_type = attachment.mime_type or "application/octet-stream"
            photo = is_photo(data, mime_type)
            if not photo and len(data) > DOCUMENT_MAX_BYTES:
                raise _Unsendable(
                    f"the attachment {attachment.filename!r} has {len(data)} bytes; the Bot API "
                    f"takes files of at most {DOCUMENT_MAX_BYTES // (1024 * 1024)} MB"
                )
            field = "photo" if photo else "document"
            fields = _form_fields(common)
            if text is not None and utf16_length(text) <= CAPTION_LIMIT:
                fields["caption"] = text
                if bold_length:
                    fields["caption_entities"] = json.dumps(
                        [{"type": "bold", "offset": 0, "length": bold_length}]
                    )
                text = None
            method = "sendPhoto" if photo else "sendDocument"
            assert attachment.filename is not None
            file_part = _Part(method, fields, (field, attachment.filename, data, mime_type))
        if text is not None:
            try:
                chunks = split_text(text, parse_mode=parse_mode)
            except Unsplittable as error:
                raise _Unsendable(str(error)) from None
            for number, chunk in enumerate(chunks):
                fields = {**common, "text": chunk}
                if settings.disable_link_preview:
                    fields["link_preview_options"] = {"is_disabled": True}
                if number == 0 and bold_length:
                    length = min(bold_length, utf16_length(chunk))
                    fields["entities"] = [{"type": "bold", "offset": 0, "length": length}]
                parts.append(_Part("sendMessage", fields))
        if file_part is not None:
            parts.append(file_part)
        return parts

    def _call(self, part: _Part, address: str) -> int | DeliveryResult:
        """Make one Bot API call: the sent message's id, or the failure."""
        url = f"{self.api_base}/bot{self._token}/{part.method}"
        timeout = (self.settings.connect_timeout, self.settings.timeout)
        try:
            if part.file is None:
                response = self._session.post(url, json=part.fields, timeout=timeout)
            else:
                field, filename, data, mime_type = part.file
                response = self._session.post(
                    url,
                    data=part.fields,
                    files={field: (filename, data, mime_type)},
                    timeout=timeout,
                )
        except self._request_error as error:
            return result_from_exception(
                error,
                provider=self.name,
                url=self.shown_url(part.method),
                method=part.method,
                timeout=timeout,
                token=self._token,
            )
        except Exception as error:  # noqa: BLE001 - its words may hold the URL, hence the token
            words = scrub(f"{type(error).__name__}: {error}", self._token)
            logger.debug("%s: %s raised %s", self.name, part.method, words)
            return DeliveryResult.failed(
                self.name,
                ErrorCode.UNKNOWN,
                f"calling {part.method} failed unexpectedly: {words}",
                method=part.method,
            )
        message_id = message_id_from(response)
        if message_id is None:
            return failure_from_response(
                response, provider=self.name, method=part.method, chat=address, token=self._token
            )
        return message_id

    def _part_failure(
        self, result: DeliveryResult, index: int, count: int, sent: list[int]
    ) -> DeliveryResult:
        """``result`` of part ``index`` with what the reader already has, for several parts."""
        if count == 1:
            return result
        error = result.error
        assert error is not None
        words = f"part {index + 1} of {count}: {error.message}"
        if sent:
            words += (
                f"; parts 1-{len(sent)} were delivered, and a retry of this message through "
                f"{self.name!r} resumes at part {len(sent) + 1}"
            )
        return DeliveryResult.failed(
            self.name,
            error.code,
            words,
            **{
                **error.details,
                "part": index + 1,
                "parts": count,
                "parts_sent": len(sent),
                "sent_message_ids": list(sent),
            },
        )

    # -- health and lifetime -------------------------------------------------

    def health(self) -> ProviderHealth:
        """Ready when ``getMe`` answers with the bot: the server is up and the token valid.

        Bounded by ``health_timeout`` on both ends: health is asked before
        sends and must not stall them. A refused token is "not ready", with
        the reason, before any message is attempted.
        """
        if self._closed:
            return ProviderHealth(provider=self.name, ready=False, details={"reason": _CLOSED})
        timeout = (
            min(self.settings.connect_timeout, self.settings.health_timeout),
            self.settings.health_timeout,
        )
        url = f"{self.api_base}/bot{self._token}/getMe"
        try:
            response = self._session.get(url, timeout=timeout)
        except self._request_error as error:
            result = result_from_exception(
                error,
                provider=self.name,
                url=self.shown_url("getMe"),
                method="getMe",
                timeout=timeout,
                token=self._token,
            )
            return ProviderHealth(provider=self.name, ready=False, details=health_problem(result))
        body: Any = None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
        bot = body.get("result") if isinstance(body, dict) and body.get("ok") is True else None
        if not isinstance(bot, dict) or not isinstance(bot.get("id"), int):
            result = failure_from_response(
                response, provider=self.name, method="getMe", chat="", token=self._token
            )
            if result.error is not None and result.error.code is ErrorCode.PROVIDER_REJECTED:
                result = DeliveryResult.failed(
                    self.name,
                    ErrorCode.PROVIDER_REJECTED,
                    "the Bot API answered getMe without a bot",
                    **result.error.details,
                )
            return ProviderHealth(provider=self.name, ready=False, details=health_problem(result))
        details: dict[str, Any] = {"api_base": self.api_base, "bot_id": bot["id"]}
        if isinstance(bot.get("username"), str):
            details["bot"] = "@" + bot["username"]
        return ProviderHealth(provider=self.name, ready=True, details=details)

    def close(self) -> None:
        """Close the pooled connections; later calls fail without connecting.

        Idempotent: the provider's owner and an orchestrator may both close it.
        """
        self._closed = True
        self._session.close()


_CLOSED = "this TelegramProvider was closed; create a new one to send again"


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
    fields: dict[str, Any] = {}
    for key, value in common.items():
        fields[key] = "true" if value is True else str(value)
    return fields


def _progress_key(message: Message, address: str, parts: list[_Part]) -> str:
    """What identifies one message to one chat across retries: reference id, chat, content."""
    digest = hashlib.sha256()
    digest.update(f"{message.metadata.reference_id}\x00{address}".encode())
    for part in parts:
        digest.update(b"\x00" + part.method.encode())
        digest.update(json.dumps(part.fields, sort_keys=True, default=str).encode())
        if part.file is not None:
            digest.update(hashlib.sha256(part.file[2]).digest())
    return digest.hexdigest()

"""``TelegramProvider``: a message as one or more Bot API calls, sent in order."""

from __future__ import annotations

import logging
import os
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
from broadcastio.providers.trace_headers import outgoing_trace_headers
from broadcastio_telegram.calls import BotApiCall, Unsendable, build_calls, chat_id_of
from broadcastio_telegram.outcomes import (
    failure_from_response,
    health_problem,
    message_id_from,
    result_from_exception,
)
from broadcastio_telegram.progress import PartProgress, progress_key
from broadcastio_telegram.redaction import REDACTED_TOKEN, register_token, scrub
from broadcastio_telegram.settings import (
    API_BASE_ENV,
    DEFAULT_API_BASE,
    TOKEN_ENV,
    TelegramSettings,
)

if TYPE_CHECKING:
    import requests

__all__ = ["TelegramProvider"]

logger = logging.getLogger("broadcastio")


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
                f"TelegramProvider needs token (or {TOKEN_ENV}, which only settings for "
                f"the server {API_BASE_ENV} names take): the bot's token from BotFather",
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
        self._progress = PartProgress()
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
        except Unsendable as error:
            return DeliveryResult.failed(self.name, ErrorCode.INVALID_MESSAGE, str(error))
        key = progress_key(message, address, parts)
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

    def build_parts(self, message: Message, chat_id: int | str) -> list[BotApiCall]:
        """The Bot API calls ``message`` becomes, in the order they are made.

        Public so a caller can see what a message becomes without a server
        (a preview, a test). Raises ``AttachmentError`` for an unreadable file.
        """
        return build_calls(message, chat_id, self.settings)

    def _call(self, part: BotApiCall, address: str) -> int | DeliveryResult:
        """Make one Bot API call: the sent message's id, or the failure."""
        url = f"{self.api_base}/bot{self._token}/{part.method}"
        timeout = (self.settings.connect_timeout, self.settings.timeout)
        # traceparent when the caller traces: a self-hosted Bot API server (api_base)
        # can then log the trace id; {} and no cost when nothing traces.
        headers = outgoing_trace_headers()
        try:
            if part.file is None:
                response = self._session.post(
                    url, json=part.fields, timeout=timeout, headers=headers
                )
            else:
                field, filename, data, mime_type = part.file
                response = self._session.post(
                    url,
                    data=part.fields,
                    files={field: (filename, data, mime_type)},
                    timeout=timeout,
                    headers=headers,
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

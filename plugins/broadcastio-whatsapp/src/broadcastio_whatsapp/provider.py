"""``WhatsAppProvider``: one HTTP call to the node-bridge per attempt."""

from __future__ import annotations

import base64
import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from broadcastio import (
    AttachmentError,
    BroadcastioError,
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
    Receipt,
)
from broadcastio.providers.base import settings_from_arguments
from broadcastio.providers.trace_headers import outgoing_trace_headers
from broadcastio_whatsapp.outcomes import result_from_exception, result_from_response
from broadcastio_whatsapp.pacing import Pacer
from broadcastio_whatsapp.receipts import RECEIPTS_PATH, fetch_receipts
from broadcastio_whatsapp.session_health import (
    SESSION_PATH,
    health_from_exception,
    health_from_response,
)
from broadcastio_whatsapp.settings import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    WhatsAppSettings,
)

if TYPE_CHECKING:
    import requests

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "WhatsAppProvider", "idempotency_key"]

_Report = TypeVar("_Report", DeliveryResult, ProviderHealth)


def idempotency_key(message: Message) -> str:
    """The ``Idempotency-Key`` for a message: stable across retries of the same message.

    It is derived from ``metadata.reference_id`` (which every retry and fallback of
    one ``Message`` shares) and the recipient, so a caller reusing one reference id
    for a whole campaign still gets one key per recipient. Hashing keeps the key
    inside the bridge's allowed alphabet and length whatever the reference id holds.
    """
    digest = hashlib.sha256(
        f"{message.metadata.reference_id}\x00{message.recipient}".encode()
    ).hexdigest()
    return f"bio-{digest[:48]}"


class WhatsAppProvider(MessageProvider):
    """Delivers through the broadcastio node-bridge (whatsapp-web.js) over HTTP.

    One ``requests.Session`` is kept for the provider's lifetime: connections to the
    bridge are reused (keep-alive), and the pool holds ``pool_size`` of them for
    senders on several threads; ``send()`` and ``health()`` share it. ``close()``
    (or leaving a ``with`` block) closes them, after which the provider answers
    every call with a failure instead of quietly opening new connections. Every
    outcome, including the bridge being down, is returned as a
    ``DeliveryResult``; nothing is retried here.

    ``requests`` is imported when a provider is created, not when the plugin is
    loaded: discovering plugins (``broadcastio plugins``, ``--help``) then costs
    no HTTP stack.

    The 0.3.0a2 spellings ``WhatsAppProvider("http://host:3000")`` (a positional
    URL, optionally followed by a timeout) and a single-number ``timeout=`` still
    work, with a ``DeprecationWarning`` naming the new spelling.
    """

    name = "whatsapp"
    settings_type = WhatsAppSettings
    address_kind = "phone"
    supports_receipts = True
    # Ids look like true_<number>@c.us_3EB0...: never exported as they are (spans).
    message_ids_contain_address = True

    def __init__(
        self,
        settings: WhatsAppSettings | str | None = None,
        legacy_timeout: float | None = None,
        /,
        **overrides: Any,
    ) -> None:
        settings, overrides = _upgrade_legacy_arguments(settings, legacy_timeout, overrides)
        settings = settings_from_arguments(
            WhatsAppSettings, settings, overrides, owner="WhatsAppProvider"
        ).with_environment(os.environ)
        self.settings = settings
        self.retry_policy = settings.retry_policy
        # with_environment always sets base_url; the default is only for the type checker.
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._messages_url = f"{self.base_url}/v1/messages"
        self._session_url = f"{self.base_url}{SESSION_PATH}"
        self._closed = False
        self._pacer = Pacer(settings.pacing)
        import requests
        from requests.adapters import HTTPAdapter

        # Kept so send() and health() can catch it without importing requests again.
        self._request_error = requests.RequestException
        self._session: requests.Session = requests.Session()
        # No transport-level retries: retrying is the orchestrator's decision.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=settings.pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Accept"] = "application/json"
        if settings.api_key:
            self._session.headers["X-Api-Key"] = settings.api_key

    @classmethod
    def configured_by_environment(cls, environ: Mapping[str, str]) -> bool:
        """True when ``BROADCASTIO_WHATSAPP_API_KEY`` or ``..._BASE_URL`` is set (non-empty).

        Either variable is a deliberate sign that WhatsApp is meant to be used,
        which a bare installed plugin is not.
        """
        return bool(environ.get(API_KEY_ENV) or environ.get(BASE_URL_ENV))

    def send(self, message: Message) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.failed(
                self.name, ErrorCode.PROVIDER_UNAVAILABLE, _CLOSED, url=self._messages_url
            )
        recipient = self.address_of(message)
        body: dict[str, Any] = {"to": recipient}
        if message.content is not None:
            body["text"] = message.content
        attachment = message.attachment
        if attachment is not None:
            try:
                content = attachment.read_bytes()
            except AttachmentError as error:
                # The orchestrator checked the file before the first attempt; if it
                # has gone since (or cannot be read), this attempt fails like any other.
                return DeliveryResult.failed(
                    self.name, ErrorCode.ATTACHMENT_NOT_FOUND, error.message, **error.details
                )
            # Sent inline as base64: the bridge never reads paths, and may run on
            # another host than this process.
            body["media"] = {
                "data": base64.b64encode(content).decode("ascii"),
                "mimetype": attachment.mime_type,
                "filename": attachment.filename,
            }
        timeout = self.settings.timeout
        # Pacing (settings.pacing, and the bridge's risk pauses): a held send
        # answers RATE_LIMITED at once; otherwise wait for the random gap.
        held = self._pacer.before_send()
        if held is not None:
            return self._pacer.refusal(self.name, held)
        try:
            # Not streamed: requests reads the whole answer and hands the
            # connection back to the pool before returning, whatever the status.
            response = self._session.post(
                self._messages_url,
                json=body,
                # traceparent when the caller traces, so the bridge logs the trace id.
                headers={"Idempotency-Key": idempotency_key(message), **outgoing_trace_headers()},
                timeout=timeout,
            )
        except self._request_error as error:
            result = result_from_exception(error, self._messages_url, timeout)
        else:
            result = result_from_response(
                response, api_key_set=self.settings.api_key is not None, recipient=recipient
            )
        self._pacer.after(result)
        return result

    def health(self) -> ProviderHealth:
        """Ready only when the bridge answers, accepts the API key, and WhatsApp is ``READY``.

        One authenticated ``GET /v1/session``, bounded on both ends by
        ``health_timeout``: health is asked before sends and must not stall them.
        """
        if self._closed:
            return ProviderHealth(provider=self.name, ready=False, details={"reason": _CLOSED})
        timeout = (
            min(self.settings.timeout[0], self.settings.health_timeout),
            self.settings.health_timeout,
        )
        try:
            response = self._session.get(self._session_url, timeout=timeout)
        except self._request_error as error:
            return self._own(health_from_exception(error, self.base_url, timeout))
        return self._own(
            self._pacer.annotate(
                health_from_response(response, api_key_set=self.settings.api_key is not None)
            )
        )

    def fetch_receipts(self, message_ids: Sequence[str]) -> Mapping[str, Receipt]:
        """The bridge's receipts for ``message_ids`` (``POST /v1/receipts/query``, 500 a request).

        Ids the bridge does not know (never sent by it, forgotten) are left
        out. Raises ``BroadcastioError`` naming this instance when the bridge
        cannot be asked (see ``broadcastio_whatsapp.receipts``).
        """
        if self._closed:
            raise BroadcastioError(_CLOSED, code=ErrorCode.PROVIDER_UNAVAILABLE)
        return fetch_receipts(
            self._session.post,
            f"{self.base_url}{RECEIPTS_PATH}",
            message_ids,
            provider=self.name,
            timeout=self.settings.timeout,
            request_error=self._request_error,
        )

    def _own(self, report: _Report) -> _Report:
        """``report`` under this provider's name, read now.

        ``outcomes`` and ``session_health`` map the bridge's answers under the
        type's name; an instance (``[providers.backup-wa]`` with
        ``type = "whatsapp"``) is given its own name after construction, and
        its results and health must carry that one, or a trace could not tell
        two bridges apart.
        """
        if report.provider == self.name:
            return report
        return attrs.evolve(report, provider=self.name)

    def close(self) -> None:
        """Close the pooled connections to the bridge; later calls fail without connecting.

        Idempotent: the provider's owner and an orchestrator may both close it.
        Leaving a ``with`` block calls it (``MessageProvider.__exit__``).
        """
        self._closed = True
        self._session.close()


_CLOSED = "this WhatsAppProvider was closed; create a new one to send again"


def _upgrade_legacy_arguments(
    settings: WhatsAppSettings | str | None,
    legacy_timeout: float | None,
    overrides: dict[str, Any],
) -> tuple[WhatsAppSettings | None, dict[str, Any]]:
    """Turn 0.3.0a2's ``WhatsAppProvider(base_url, timeout=5)`` into today's arguments.

    0.3.0a2 took the URL positionally and one number for both the connect and
    the read timeout (requests' meaning of a scalar). That meaning is kept, as
    ``(t, t)``, so an upgraded program times out exactly as before; the warning
    shows how to say it now.
    """
    overrides = dict(overrides)
    if isinstance(settings, str):
        if "base_url" in overrides:
            raise ConfigurationError(
                "WhatsAppProvider got base_url twice: positionally and as base_url="
            )
        warnings.warn(
            "WhatsAppProvider(url) with a positional URL is the deprecated 0.3.0a2 "
            "spelling; write WhatsAppProvider(base_url=url)",
            DeprecationWarning,
            stacklevel=3,
        )
        overrides["base_url"] = settings
        settings = None
    elif legacy_timeout is not None:
        raise ConfigurationError(
            "WhatsAppProvider takes one positional argument (a WhatsAppSettings); "
            "pass timeout=(connect, read) by keyword"
        )
    if legacy_timeout is not None:
        if "timeout" in overrides:
            raise ConfigurationError(
                "WhatsAppProvider got timeout twice: positionally and as timeout="
            )
        overrides["timeout"] = legacy_timeout
    timeout = overrides.get("timeout")
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        warnings.warn(
            f"WhatsAppProvider(timeout={timeout!r}) with one number is the deprecated "
            f"0.3.0a2 spelling; write timeout=(connect, read), e.g. "
            f"timeout=({timeout!r}, {timeout!r}) for the same meaning",
            DeprecationWarning,
            stacklevel=3,
        )
        overrides["timeout"] = (timeout, timeout)
    return settings, overrides

"""``WhatsAppProvider``: one HTTP call to the node-bridge per attempt."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import TYPE_CHECKING, Any

from broadcastio import (
    AttachmentError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
)
from broadcastio.providers.base import settings_from_arguments
from broadcastio_whatsapp.outcomes import result_from_exception, result_from_response
from broadcastio_whatsapp.settings import DEFAULT_BASE_URL, WhatsAppSettings, check_base_url

if TYPE_CHECKING:
    import requests

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "WhatsAppProvider", "idempotency_key"]

API_KEY_ENV = "BROADCASTIO_WHATSAPP_API_KEY"
BASE_URL_ENV = "BROADCASTIO_WHATSAPP_BASE_URL"

_STATE_REASONS = {
    "STARTING": "the bridge is starting WhatsApp Web",
    "QR": "QR: scan the code (GET /v1/session/qr, or the bridge's terminal) with "
    "WhatsApp > Linked devices",
    "AUTHENTICATED": "authenticated; WhatsApp Web is still loading",
    "DISCONNECTED": "the WhatsApp session is disconnected; the bridge is reconnecting",
    "FAILED": "the WhatsApp session failed; see last_error",
}


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
    senders on several threads. Every outcome, including the bridge being down, is
    returned as a ``DeliveryResult``; nothing is retried here.

    ``requests`` is imported when a provider is created, not when the plugin is
    loaded: discovering plugins (``broadcastio plugins``, ``--help``) then costs
    no HTTP stack.
    """

    name = "whatsapp"
    settings_type = WhatsAppSettings

    def __init__(self, settings: WhatsAppSettings | None = None, /, **overrides: Any) -> None:
        settings = settings_from_arguments(
            WhatsAppSettings, settings, overrides, owner="WhatsAppProvider"
        )
        self.settings = settings
        self.retry_policy = settings.retry_policy
        base_url = settings.base_url
        if base_url is None:
            environment_url = os.environ.get(BASE_URL_ENV)
            base_url = (
                check_base_url(environment_url, BASE_URL_ENV)
                if environment_url
                else DEFAULT_BASE_URL
            )
        self.base_url = base_url.rstrip("/")
        self._messages_url = f"{self.base_url}/v1/messages"
        self._health_url = f"{self.base_url}/health"
        api_key = settings.api_key or os.environ.get(API_KEY_ENV) or None
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
        if api_key:
            self._session.headers["X-Api-Key"] = api_key

    def send(self, message: Message) -> DeliveryResult:
        body: dict[str, Any] = {"to": message.recipient}
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
        try:
            response = self._session.post(
                self._messages_url,
                json=body,
                headers={"Idempotency-Key": idempotency_key(message)},
                timeout=self.settings.timeout,
            )
        except self._request_error as error:
            return result_from_exception(error, self._messages_url)
        result = result_from_response(response)
        if result.error is not None and result.error.code == "AUTHENTICATION_FAILED":
            if "X-Api-Key" not in self._session.headers:
                hint = f"no API key configured: set the api_key setting or {API_KEY_ENV}"
                return DeliveryResult.failed(
                    self.name, result.error.code, hint, **result.error.details
                )
        return result

    def health(self) -> ProviderHealth:
        try:
            response = self._session.get(
                self._health_url,
                # Short on both ends: health is asked before sends and must not stall them.
                timeout=(
                    min(self.settings.timeout[0], self.settings.health_timeout),
                    self.settings.health_timeout,
                ),
            )
        except self._request_error as error:
            return ProviderHealth(
                self.name,
                False,
                {
                    "reason": f"bridge unreachable at {self.base_url}",
                    "error": f"{type(error).__name__}: {error}",
                },
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            return ProviderHealth(
                self.name,
                False,
                {
                    "reason": f"unexpected answer from {self._health_url}",
                    "http_status": response.status_code,
                },
            )
        state = body.get("state")
        ready = body.get("ready") is True and state == "READY"
        details: dict[str, Any] = {"state": state}
        if body.get("lastError"):
            details["last_error"] = body["lastError"]
        if body.get("since"):
            details["since"] = body["since"]
        if not ready:
            details["reason"] = _STATE_REASONS.get(str(state), f"session state {state!r}")
        return ProviderHealth(self.name, ready, details)

    def close(self) -> None:
        """Close the pooled connections to the bridge."""
        self._session.close()

    def __enter__(self) -> WhatsAppProvider:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

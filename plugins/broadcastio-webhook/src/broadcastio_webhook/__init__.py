"""broadcastio-webhook: post messages to webhooks (Slack, Discord, Teams, ntfy, your own)."""

from broadcastio_webhook.formats import FORMATS, LIMITS, PLACEHOLDERS, Body, BodyError
from broadcastio_webhook.provider import ADDRESS_KIND, WebhookProvider, idempotency_key
from broadcastio_webhook.settings import WebhookSettings
from broadcastio_webhook.signing import SIGNATURE_HEADER, signature
from broadcastio_webhook.urls import redact_url

__all__ = [
    "ADDRESS_KIND",
    "FORMATS",
    "LIMITS",
    "PLACEHOLDERS",
    "SIGNATURE_HEADER",
    "Body",
    "BodyError",
    "WebhookProvider",
    "WebhookSettings",
    "idempotency_key",
    "redact_url",
    "signature",
]

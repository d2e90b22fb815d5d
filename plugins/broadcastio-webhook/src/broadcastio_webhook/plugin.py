"""The entry point module: tells broadcastio about ``WebhookProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_webhook.provider import WebhookProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer webhooks at priority 40: after WhatsApp (100) and email (50), people's own
    inboxes, and before test providers (0). A chain built without an order only
    includes a webhook instance that a settings table configures."""
    register(WebhookProvider, priority=40)

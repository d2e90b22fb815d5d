"""The entry point module: tells broadcastio about ``WhatsAppProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_whatsapp.provider import WhatsAppProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer WhatsApp at priority 100: a real channel goes before test providers (priority 0)."""
    register(WhatsAppProvider, priority=100)

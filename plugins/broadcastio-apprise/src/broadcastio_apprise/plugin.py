"""The entry point module: tells broadcastio about ``AppriseProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_apprise.provider import AppriseProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer Apprise at priority 30: in a chain built without an order, after the
    native channels (WhatsApp 100, Telegram 60, email 50, webhook 40), which report
    more precisely what went wrong, and before test providers (0). Apprise is the
    long tail: the services no native plugin covers."""
    register(AppriseProvider, priority=30)

"""The entry point module: tells broadcastio about ``TelegramProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_telegram.provider import TelegramProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer Telegram at priority 60: after WhatsApp (100), before email (50).

    A Telegram message reaches a phone at once, like WhatsApp, which makes it
    the better fallback for an alert than an inbox; test providers sit at 0.
    """
    register(TelegramProvider, priority=60)

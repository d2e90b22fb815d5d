"""The entry point module: tells broadcastio about ``EmailProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_email.provider import EmailProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer email at priority 50: after WhatsApp (100), the channel people read first,
    and before test providers (0); email is the usual fallback."""
    register(EmailProvider, priority=50)

"""The entry point module: tells broadcastio about ``DummyProvider``."""

from __future__ import annotations

from broadcastio import hookimpl
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio_dummy.provider import DummyProvider


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    """Offer the dummy provider at priority 0, so real channels (higher priority) go first."""
    register(DummyProvider, priority=0)

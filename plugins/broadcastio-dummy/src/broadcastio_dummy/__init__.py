"""broadcastio-dummy: a provider that delivers nothing, reliably, for tests and demos."""

from broadcastio_dummy.provider import DummyProvider, DummySettings

__all__ = ["DummyProvider", "DummySettings"]

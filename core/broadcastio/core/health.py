"""Old path of ``ProviderHealth`` and ``HealthCache``, kept so existing imports work."""

from broadcastio.engine.health_cache import HealthCache
from broadcastio.records.health import ProviderHealth

__all__ = ["HealthCache", "ProviderHealth"]

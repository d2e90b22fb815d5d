"""Collecting provider classes from plugins through the ``register_providers`` hook."""

from __future__ import annotations

import re
from typing import Any

import attrs

from broadcastio.errors import ConfigurationError
from broadcastio.plugins.manager import PluginManager
from broadcastio.providers.base import MessageProvider

__all__ = ["ProviderRegistration", "collect_providers"]

_PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@attrs.frozen
class ProviderRegistration:
    """One provider class offered by one plugin, with the priority it asked for."""

    name: str
    provider_class: type[MessageProvider]
    priority: int
    plugin: str
    distribution: str | None

    @property
    def origin(self) -> str:
        """Where the registration came from, for error messages."""
        if self.distribution:
            return f"distribution {self.distribution!r}"
        return f"in-process plugin {self.plugin!r}"


def _check_provider_class(provider_class: Any, priority: Any) -> str:
    if not isinstance(provider_class, type) or not issubclass(provider_class, MessageProvider):
        raise ConfigurationError(
            f"register() expects a MessageProvider subclass, got {provider_class!r}"
        )
    name = getattr(provider_class, "name", None)
    if not isinstance(name, str) or not _PROVIDER_NAME.match(name):
        raise ConfigurationError(
            f"{provider_class.__qualname__}.name must be a name like 'whatsapp' "
            f"(letters, digits, '_', '-', '.'), got {name!r}"
        )
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigurationError(f"priority for provider {name!r} must be an int, got {priority!r}")
    return name


def collect_providers(plugin_manager: PluginManager) -> dict[str, ProviderRegistration]:
    """Ask every plugin for its providers; return them by name.

    Each plugin's ``register_providers`` runs in isolation: if it raises, or hands
    ``register`` something that is not a provider, the plugin is marked broken and
    none of its providers are kept. Two *different* classes under one name are a
    ``ConfigurationError`` naming both origins: silently picking one would send
    through a provider the user did not choose.
    """
    registrations: dict[str, ProviderRegistration] = {}
    # pluggy calls implementations last-registered first; do the same.
    for impl in reversed(plugin_manager.hook.register_providers.get_hookimpls()):
        offered: list[ProviderRegistration] = []
        distribution = plugin_manager.distribution_of(impl.plugin_name)

        def register(
            provider_class: type[MessageProvider],
            *,
            priority: int = 0,
            _plugin: str = impl.plugin_name,
            _distribution: str | None = distribution,
            _offered: list[ProviderRegistration] = offered,
        ) -> None:
            name = _check_provider_class(provider_class, priority)
            _offered.append(
                ProviderRegistration(name, provider_class, priority, _plugin, _distribution)
            )

        try:
            impl.function(*[{"register": register}[arg] for arg in impl.argnames])
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the others
            plugin_manager.mark_broken(
                impl.plugin, f"register_providers failed: {type(exc).__name__}: {exc}"
            )
            continue
        for registration in offered:
            existing = registrations.get(registration.name)
            if existing is None:
                registrations[registration.name] = registration
            elif existing.provider_class is not registration.provider_class:
                raise ConfigurationError(
                    f"provider name {registration.name!r} is registered twice: by "
                    f"{existing.origin} ({existing.provider_class.__qualname__}) and by "
                    f"{registration.origin} ({registration.provider_class.__qualname__}); "
                    "uninstall or disable one of them (BROADCASTIO_DISABLE_PLUGINS)",
                    details={
                        "provider": registration.name,
                        "origins": [existing.origin, registration.origin],
                    },
                )
    return registrations

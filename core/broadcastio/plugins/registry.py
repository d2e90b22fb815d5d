"""Collecting provider classes from plugins through the ``register_providers`` hook."""

from __future__ import annotations

import re
from typing import Any

import attrs

from broadcastio.engine.relay import HookImplementation
from broadcastio.errors import ConfigurationError
from broadcastio.plugins.hookspecs import ProviderRegistrar
from broadcastio.plugins.manager import PluginManager
from broadcastio.providers.base import MessageProvider

__all__ = ["PROVIDER_NAME", "ProviderRegistration", "collect_providers"]

PROVIDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
"""What a provider type or instance name looks like: usable in ``--provider`` and in traces."""


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
    if not isinstance(name, str) or not PROVIDER_NAME.match(name):
        raise ConfigurationError(
            f"{provider_class.__qualname__}.name must be a name like 'whatsapp' "
            f"(letters, digits, '_', '-', '.'), got {name!r}"
        )
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigurationError(f"priority for provider {name!r} must be an int, got {priority!r}")
    return name


def collect_providers(plugin_manager: PluginManager) -> dict[str, ProviderRegistration]:
    """Ask every plugin for its providers; return them by name.

    The ``register_providers`` implementations are called like every other hook
    (``PluginManager.isolated_hook``), each on its own: if one raises, or hands
    ``register`` something that is not a provider, its plugin is marked broken
    and none of its providers are kept. Two *different* classes under one name
    are a ``ConfigurationError`` naming both origins: silently picking one would
    send through a provider the user did not choose.
    """
    offers: list[tuple[str, list[ProviderRegistration]]] = []
    broken: set[str] = set()

    def arguments_for(implementation: HookImplementation) -> dict[str, ProviderRegistrar]:
        # Each implementation gets its own register, so every offer is
        # credited to the plugin that made it.
        offered: list[ProviderRegistration] = []
        offers.append((implementation.plugin_name, offered))
        return {"register": _registrar(plugin_manager, implementation.plugin_name, offered)}

    def on_error(implementation: HookImplementation, exc: Exception) -> None:
        broken.add(implementation.plugin_name)
        plugin_manager.mark_broken(
            plugin_manager.get_plugin(implementation.plugin_name),
            f"register_providers failed: {type(exc).__name__}: {exc}",
        )

    plugin_manager.isolated_hook("register_providers").call(arguments_for, on_error)

    registrations: dict[str, ProviderRegistration] = {}
    for plugin_name, offered in offers:
        if plugin_name in broken:
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


def _registrar(
    plugin_manager: PluginManager, plugin_name: str, offered: list[ProviderRegistration]
) -> ProviderRegistrar:
    """The ``register`` callable for one plugin: checks each offer and keeps it in ``offered``."""
    distribution = plugin_manager.distribution_of(plugin_name)

    def register(provider_class: type[MessageProvider], *, priority: int = 0) -> None:
        name = _check_provider_class(provider_class, priority)
        offered.append(
            ProviderRegistration(
                name=name,
                provider_class=provider_class,
                priority=priority,
                plugin=plugin_name,
                distribution=distribution,
            )
        )

    return register

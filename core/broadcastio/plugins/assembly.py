"""Turning installed plugins and a user's settings into an ordered list of providers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from broadcastio.core.codes import ErrorCode
from broadcastio.errors import ConfigurationError, OrchestrationError
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import collect_providers
from broadcastio.plugins.settings import build_provider, structure_settings
from broadcastio.providers.base import MessageProvider

__all__ = ["assemble_providers"]


def assemble_providers(
    order: Any,
    settings: Any,
    plugin_manager: PluginManager,
    environ: Mapping[str, str],
) -> list[MessageProvider]:
    """Load plugins into ``plugin_manager`` and build the chosen providers, in order.

    ``order`` picks and orders providers by name; without it every discovered
    provider is used, highest registered priority first, then by name, never by
    load order. Every settings table is checked, including those of providers left
    out of ``order``: a typo in a provider that is switched off today still
    deserves an error.
    """
    names = _check_order(order)
    settings = _check_settings(settings)
    if not isinstance(plugin_manager, PluginManager):
        raise ConfigurationError(
            "plugin_manager must be a broadcastio.plugins.manager.PluginManager"
        )
    plugin_manager.load_entry_points(environ)
    registrations = collect_providers(plugin_manager)
    available = ", ".join(sorted(registrations)) or "none"
    unknown_settings = sorted(set(settings) - set(registrations))
    if unknown_settings:
        raise ConfigurationError(
            f"settings given for unknown provider(s) {', '.join(map(repr, unknown_settings))}; "
            f"available providers: {available}",
            details={"unknown": unknown_settings, "available": sorted(registrations)},
        )
    structured = {
        name: structure_settings(registrations[name], table) for name, table in settings.items()
    }
    if names is None:
        chosen = sorted(registrations.values(), key=lambda reg: (-reg.priority, reg.name))
    else:
        chosen = []
        for name in names:
            if name not in registrations:
                raise ConfigurationError(
                    f"unknown provider {name!r}; available providers: {available}",
                    details={"provider": name, "available": sorted(registrations)},
                )
            if registrations[name] in chosen:
                raise ConfigurationError(
                    f"provider {name!r} is listed twice in order",
                    details={"order": names, "provider": name},
                )
            chosen.append(registrations[name])
    if not chosen:
        broken = "; ".join(f"{p.name}: {p.error}" for p in plugin_manager.broken_plugins)
        raise OrchestrationError(
            "no provider plugins are available"
            + (f" (broken plugins: {broken})" if broken else "")
            + "; install one (e.g. broadcastio-dummy) or check BROADCASTIO_LOAD_PLUGINS",
            code=ErrorCode.NO_PROVIDERS,
        )
    providers = []
    for registration in chosen:
        if registration.name not in structured:
            structured[registration.name] = structure_settings(registration, None)
        providers.append(build_provider(registration, structured[registration.name]))
    return providers


def _check_order(order: Any) -> list[str] | None:
    if order is None:
        return None
    if isinstance(order, (str, bytes)) or not isinstance(order, Iterable):
        raise ConfigurationError(f"order must be a list of provider names, got {order!r}")
    names = list(order)
    if not names:
        raise ConfigurationError(
            "order is empty; list at least one provider, or leave order out to use them all",
            details={"order": names},
        )
    for name in names:
        if not isinstance(name, str):
            raise ConfigurationError(f"order must hold provider names (strings), got {name!r}")
    return names


def _check_settings(settings: Any) -> dict[str, Any]:
    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise ConfigurationError(
            f"settings must map provider names to their settings, got {type(settings).__name__}"
        )
    for name in settings:
        if not isinstance(name, str):
            raise ConfigurationError(f"settings keys must be provider names, got {name!r}")
    return dict(settings)

"""Turning installed plugins and a user's settings into an ordered list of providers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.errors import ConfigurationError
from broadcastio.errors.codes import ErrorCode
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import ProviderRegistration, collect_providers
from broadcastio.plugins.settings import build_provider, structure_settings
from broadcastio.providers.base import MessageProvider, close_providers

__all__ = ["assemble_providers", "orchestrator_from_plugins"]


def orchestrator_from_plugins(
    order: Sequence[str] | None = None,
    *,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
    orchestrator_class: type[Orchestrator] = Orchestrator,
    **orchestrator_kwargs: Any,
) -> Orchestrator:
    """An orchestrator whose providers come from the plugins installed in this environment.

    Plugins are discovered through the ``broadcastio`` entry-point group (see
    ``BROADCASTIO_LOAD_PLUGINS`` / ``BROADCASTIO_DISABLE_PLUGINS``). ``order``
    picks and orders providers by name; without it the chain is the configured
    real providers (see ``assemble_providers``). ``settings`` maps a provider
    name to its settings dict. ``environ`` replaces ``os.environ`` for the plugin
    filters and the providers' environment settings. Other keyword arguments go
    to the constructor; a ``plugin_manager`` passed there receives the entry
    points. ``Orchestrator.from_plugins`` is this function.
    """
    plugin_manager = orchestrator_kwargs.pop("plugin_manager", None) or PluginManager()
    providers = assemble_providers(
        order, settings, plugin_manager, os.environ if environ is None else environ
    )
    try:
        return orchestrator_class(providers, plugin_manager=plugin_manager, **orchestrator_kwargs)
    except BaseException:
        # Built here and owned by nobody else: an argument the constructor
        # refuses must not leave their sessions open.
        close_providers(providers)
        raise


def assemble_providers(
    order: Any,
    settings: Any,
    plugin_manager: PluginManager,
    environ: Mapping[str, str],
) -> list[MessageProvider]:
    """Load plugins into ``plugin_manager`` and build the chosen providers, in order.

    ``order`` picks and orders providers by name, test doubles included. Without
    it the chain is every installed provider that is *configured* (it has a
    settings table, or ``configured_by_environment`` says its environment
    variables set it up) and is not a test double, highest registered priority
    first, then by name, never by load order. Nothing configured is a
    ``ConfigurationError`` saying how to configure a provider: guessing would
    send through a channel nobody set up, or "deliver" through a test double.
    Every settings table is checked, including those of providers left out of
    ``order``: a typo in a provider that is switched off today still deserves an
    error.
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
            # One problem per table, placed at its key in ``settings``.
            problems=[
                ConfigurationError(
                    key_path=(name,),
                    problem=f"no installed plugin provides {name!r} (available: {available})",
                )
                for name in unknown_settings
            ],
        )
    structured = {
        name: structure_settings(registrations[name], table, environ)
        for name, table in settings.items()
    }
    if names is None:
        chosen = _configured(registrations, settings, environ, plugin_manager)
    else:
        chosen = []
        for name in names:
            if name not in registrations:
                raise ConfigurationError(
                    f"unknown provider {name!r}; available providers: {available}",
                    details={"provider": name, "available": sorted(registrations)},
                    field="order",
                )
            if registrations[name] in chosen:
                raise ConfigurationError(
                    f"provider {name!r} is listed twice in order",
                    details={"order": names, "provider": name},
                    field="order",
                )
            chosen.append(registrations[name])
    providers: list[MessageProvider] = []
    try:
        for registration in chosen:
            if registration.name not in structured:
                structured[registration.name] = structure_settings(registration, None, environ)
            providers.append(build_provider(registration, structured[registration.name]))
    except BaseException:
        # Those already built may hold connections; nobody else will ever close them.
        close_providers(providers)
        raise
    return providers


def _configured(
    registrations: Mapping[str, ProviderRegistration],
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    plugin_manager: PluginManager,
) -> list[ProviderRegistration]:
    """The chain when no order is given: configured real providers, by priority then name."""
    chosen = [
        registration
        for registration in registrations.values()
        if not registration.provider_class.test_double
        and (
            registration.name in settings
            or registration.provider_class.configured_by_environment(environ)
        )
    ]
    if chosen:
        return sorted(chosen, key=lambda reg: (-reg.priority, reg.name))
    real = sorted(name for name, reg in registrations.items() if not reg.provider_class.test_double)
    doubles = sorted(name for name, reg in registrations.items() if reg.provider_class.test_double)
    if real:
        installed = f"installed providers: {', '.join(real)}"
        example = real[0]
    else:
        installed = "no real provider is installed (pip install broadcastio-whatsapp, ...)"
        example = "whatsapp"
    if doubles:
        installed += f"; test doubles, used only when named: {', '.join(doubles)}"
    broken = "; ".join(f"{p.name}: {p.error}" for p in plugin_manager.broken_plugins)
    if broken:
        installed += f"; broken plugins: {broken}"
    raise ConfigurationError(
        "no provider is configured: choose the chain with --provider NAME (order=[...] in "
        "Python) or with order in the configuration's [orchestrator] table, or add a "
        f"[providers.{example}] table (see docs/configuration.md); {installed}",
        code=ErrorCode.NO_PROVIDERS,
        details={"available": real, "test_doubles": doubles},
    )


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
            field="order",
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

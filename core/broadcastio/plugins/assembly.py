"""Turning installed plugins and a user's settings into an ordered list of providers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.errors import ConfigurationError
from broadcastio.errors.codes import ErrorCode
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.instances import (
    ProviderInstance,
    configured_instances,
    default_instance,
)
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
    picks and orders provider instances by name; without it the chain is the
    configured real ones (see ``assemble_providers``). ``settings`` maps an
    instance name to its settings dict; a ``"type"`` key in it names the
    provider type, so ``settings={"backup-wa": {"type": "whatsapp", ...}}``
    adds a second WhatsApp instance named ``backup-wa`` (without ``"type"``
    the name is the type). ``environ`` replaces ``os.environ`` for the plugin
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
    """Load plugins into ``plugin_manager`` and build the chosen provider instances, in order.

    ``settings`` maps an instance name to its settings table; the table's
    ``type`` key names the provider type (see ``broadcastio.plugins.instances``),
    and without it the name is the type. ``order`` picks and orders instances
    by name, test doubles included; a type's name alone is its default instance.
    Without ``order`` the chain is every *configured* instance that is not a
    test double: each instance with a settings table, and the default instance
    of a type whose ``configured_by_environment`` says its environment variables
    set it up; highest registered priority first, then by name, never by load
    order. Nothing configured is a ``ConfigurationError`` saying how to
    configure a provider: guessing would send through a channel nobody set up,
    or "deliver" through a test double. Every settings table is checked,
    including those of instances left out of ``order``: a typo in a provider
    that is switched off today still deserves an error.
    """
    names = _check_order(order)
    settings = _check_settings(settings)
    if not isinstance(plugin_manager, PluginManager):
        raise ConfigurationError(
            "plugin_manager must be a broadcastio.plugins.manager.PluginManager"
        )
    plugin_manager.load_entry_points(environ)
    registrations = collect_providers(plugin_manager)
    instances = configured_instances(settings, registrations)
    structured = {
        name: structure_settings(instance.registration, instance.settings, environ, instance=name)
        for name, instance in instances.items()
    }
    if names is None:
        chosen = _configured(registrations, instances, environ, plugin_manager)
    else:
        chosen = _ordered(names, registrations, instances)
    providers: list[MessageProvider] = []
    try:
        for instance in chosen:
            if instance.name not in structured:
                structured[instance.name] = structure_settings(
                    instance.registration, None, environ, instance=instance.name
                )
            providers.append(
                build_provider(
                    instance.registration, structured[instance.name], instance=instance.name
                )
            )
    except BaseException:
        # Those already built may hold connections; nobody else will ever close them.
        close_providers(providers)
        raise
    return providers


def _ordered(
    names: list[str],
    registrations: Mapping[str, ProviderRegistration],
    instances: Mapping[str, ProviderInstance],
) -> list[ProviderInstance]:
    """The instances ``names`` picks, in its order: configured ones, else default ones."""
    available = ", ".join(sorted({*registrations, *instances})) or "none"
    chosen: list[ProviderInstance] = []
    for name in names:
        if name in instances:
            instance = instances[name]
        elif name in registrations:
            instance = default_instance(registrations[name])
        else:
            raise ConfigurationError(
                f"unknown provider {name!r}; available providers: {available}",
                details={"provider": name, "available": sorted({*registrations, *instances})},
                field="order",
            )
        if any(other.name == name for other in chosen):
            raise ConfigurationError(
                f"provider {name!r} is listed twice in order",
                details={"order": names, "provider": name},
                field="order",
            )
        chosen.append(instance)
    return chosen


def _configured(
    registrations: Mapping[str, ProviderRegistration],
    instances: Mapping[str, ProviderInstance],
    environ: Mapping[str, str],
    plugin_manager: PluginManager,
) -> list[ProviderInstance]:
    """The chain when no order is given: configured real instances, by priority then name.

    A table is configuration, so every instance with one counts. The
    environment configures only a type's default instance (named like the
    type): ``BROADCASTIO_WHATSAPP_BASE_URL`` says where *the* WhatsApp bridge
    is, not how many there are.
    """
    chosen = {
        name: instance
        for name, instance in instances.items()
        if not instance.registration.provider_class.test_double
    }
    for registration in registrations.values():
        provider_class = registration.provider_class
        if (
            registration.name not in instances
            and not provider_class.test_double
            and provider_class.configured_by_environment(environ)
        ):
            chosen[registration.name] = default_instance(registration)
    if chosen:
        return sorted(
            chosen.values(), key=lambda instance: (-instance.registration.priority, instance.name)
        )
    real = sorted(name for name, reg in registrations.items() if not reg.provider_class.test_double)
    doubles = sorted(name for name, reg in registrations.items() if reg.provider_class.test_double)
    if real:
        installed = f"installed providers: {', '.join(real)}"
        # The example names the channel a chain would try first: the highest priority.
        example = min(real, key=lambda name: (-registrations[name].priority, name))
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

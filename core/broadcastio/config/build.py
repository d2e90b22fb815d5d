"""From a ``BroadcastioConfig`` to a working ``Orchestrator``, through the installed plugins.

Provider settings are checked here, against the plugin's own settings type,
because only an installed plugin knows them. Errors from plugin assembly are
placed at the configuration key (``providers.whatsapp.timeout``) and the file by
adding to their key path and source, so a CLI user sees where to look instead of
which function failed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from broadcastio.config.load import load_config
from broadcastio.config.model import BroadcastioConfig, redact
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.errors import BroadcastioError, ConfigurationError
from broadcastio.plugins.assembly import assemble_providers
from broadcastio.plugins.instances import configured_instances, default_instance
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import collect_providers
from broadcastio.plugins.settings import structure_settings
from broadcastio.providers.base import close_providers
from broadcastio.records.serialization import converter

__all__ = ["build_orchestrator", "orchestrator_from_config", "resolved_providers"]


def orchestrator_from_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **orchestrator_kwargs: Any,
) -> Orchestrator:
    """An orchestrator from a TOML configuration file and the installed plugins.

    ``path`` unset looks the file up like the command line does:
    ``$BROADCASTIO_CONFIG``, ``./broadcastio.toml``, then the user config
    directory. ``environ`` replaces ``os.environ`` for ``${VAR}`` interpolation,
    the lookup and the plugin filters. Keyword arguments (``order``,
    ``on_attempt``, ``clock``...) override or extend what the file says. Every
    problem is a ``ConfigurationError`` naming the file and the key.
    ``Orchestrator.from_config`` is this function.
    """
    config = load_config(path, environ=environ)
    return build_orchestrator(config, environ=environ, **orchestrator_kwargs)


def build_orchestrator(
    config: BroadcastioConfig,
    *,
    order: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **orchestrator_kwargs: Any,
) -> Orchestrator:
    """An orchestrator for ``config``; ``order`` and keyword arguments override the file.

    ``retry`` and ``rate_limit`` of providers that are configured but not in the
    chain are checked and then left out, so a file can keep settings for a
    provider that is switched off.
    """
    environ = os.environ if environ is None else environ
    plugin_manager = orchestrator_kwargs.pop("plugin_manager", None) or PluginManager()
    chosen = order if order is not None else config.orchestrator.order
    try:
        providers = assemble_providers(chosen, _settings(config), plugin_manager, environ)
    except ConfigurationError as exc:
        raise _locate(exc, config, from_order=order is None) from None
    names = {provider.name for provider in providers}
    arguments: dict[str, Any] = {
        "health_ttl": config.orchestrator.health_ttl,
        "require_healthy": config.orchestrator.require_healthy,
        "timeout": config.orchestrator.timeout,
        "retry_policy": config.orchestrator.retry,
        "retry_policies": {k: v for k, v in config.retry_policies.items() if k in names},
        "rate_limits": {k: v for k, v in config.rate_limits.items() if k in names},
    }
    arguments.update(orchestrator_kwargs)
    try:
        return Orchestrator(providers, plugin_manager=plugin_manager, **arguments)
    except BaseException:
        close_providers(providers)  # built for an orchestrator that does not exist
        raise


def resolved_providers(
    config: BroadcastioConfig,
    *,
    environ: Mapping[str, str] | None = None,
    plugin_manager: PluginManager | None = None,
) -> dict[str, dict[str, Any]]:
    """Every provider instance in effect, by name: its type and effective settings, redacted.

    The instances are those the file configures (``[providers.NAME]``, with
    ``type`` or named after their type) and the default instance of every
    other installed type, which an order may name. Each table starts with
    ``type``. File values win over the environment variables a plugin falls
    back to (``with_environment`` on its settings type), which win over defaults.
    """
    plugin_manager = plugin_manager or PluginManager()
    environ = os.environ if environ is None else environ
    plugin_manager.load_entry_points(environ)
    registrations = collect_providers(plugin_manager)
    try:
        instances = configured_instances(_settings(config), registrations)
    except ConfigurationError as exc:
        raise _locate(exc, config, from_order=True) from None
    for registration in registrations.values():
        instances.setdefault(registration.name, default_instance(registration))
    resolved = {}
    for name, instance in sorted(instances.items()):
        configured = config.providers.get(name)
        try:
            settings = structure_settings(
                instance.registration, instance.settings, environ, instance=name
            )
        except ConfigurationError as exc:
            raise _locate(exc, config, from_order=True) from None
        table: dict[str, Any] = {"type": instance.type}
        if settings is not None:
            table.update(converter.unstructure(settings))
        if configured is not None and configured.retry is not None:
            table["retry"] = converter.unstructure(configured.retry)
        if configured is not None and configured.rate_limit is not None:
            table["rate_limit"] = str(configured.rate_limit)
        resolved[name] = redact(table)
    return resolved


def _settings(config: BroadcastioConfig) -> dict[str, dict[str, Any]]:
    """The file's provider tables as the plugin assembly takes them, ``type`` included."""
    return {name: provider.assembly_settings for name, provider in config.providers.items()}


def _locate(
    error: ConfigurationError, config: BroadcastioConfig, *, from_order: bool
) -> ConfigurationError:
    """An assembly error placed at the configuration key (and file) it comes from.

    Only fields are read: the provider from ``details``, the individual problems
    with their own key paths, and ``field`` for the argument a problem concerns.
    The plugin layer's sentence is never taken apart.
    """
    details = error.details
    provider = details.get("provider")
    located: ConfigurationError
    if error.problems and provider:
        located = _settings_problems(error, provider)
    elif error.problems:
        # Tables for providers no plugin provides; each problem is keyed by its name.
        located = ConfigurationError(
            code=error.code,
            details=dict(details),
            problems=[problem.with_prefix("providers") for problem in error.problems],
        )
    elif error.field == "order":
        if not from_order:
            # The order came from the caller (order=, --provider), not the file.
            return error.evolve(details={**details, "key": "order"}).with_prefix("order")
        located = error.with_prefix("orchestrator", "order")
    elif provider and error.field is not None:
        located = error.with_prefix("providers", provider, error.field)
    elif provider:
        located = error.with_prefix("providers", provider)
    else:
        located = error
    if config.source.path is not None:
        located = located.located(str(config.source.path))
    return located


def _settings_problems(error: ConfigurationError, provider: str) -> ConfigurationError:
    """One problem per bad setting of ``provider``, each at its ``providers.NAME.KEY``."""
    details = error.details
    unknown_settings = details.get("unknown_settings", [])
    known = ", ".join(details.get("known", []))
    problems: list[BroadcastioError] = [
        ConfigurationError(
            key_path=("providers", provider, unknown),
            problem=f"unknown setting for {provider!r}"
            + (f"; expected one of: {known}, retry, rate_limit" if known else ""),
        )
        for unknown in unknown_settings
    ]
    for problem in error.problems:
        if not problem.key_path and unknown_settings:
            continue  # the unknown settings, already listed one by one
        problems.append(problem.with_prefix("providers", provider))
    return ConfigurationError(code=error.code, details=dict(details), problems=problems)

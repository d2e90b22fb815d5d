"""From a ``BroadcastioConfig`` to a working ``Orchestrator``, through the installed plugins.

Provider settings are checked here, against the plugin's own settings type,
because only an installed plugin knows them. Errors from plugin assembly are
re-worded to name the configuration key (``providers.whatsapp.timeout``) and the
file, so a CLI user sees where to look instead of which function failed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from broadcastio.config.load import load_config
from broadcastio.config.model import BroadcastioConfig, redact
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.errors import ConfigurationError
from broadcastio.plugins.assembly import assemble_providers
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
    settings = {name: provider.settings for name, provider in config.providers.items()}
    try:
        providers = assemble_providers(chosen, settings, plugin_manager, environ)
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
    """Every installed provider's effective settings, redacted.

    File values win over the environment variables a plugin falls back to
    (``with_environment`` on its settings type), which win over defaults.
    """
    plugin_manager = plugin_manager or PluginManager()
    environ = os.environ if environ is None else environ
    plugin_manager.load_entry_points(environ)
    resolved = {}
    for name, registration in sorted(collect_providers(plugin_manager).items()):
        configured = config.providers.get(name)
        try:
            settings = structure_settings(
                registration, configured.settings if configured else None, environ
            )
        except ConfigurationError as exc:
            raise _locate(exc, config, from_order=True) from None
        table: dict[str, Any] = {} if settings is None else dict(converter.unstructure(settings))
        if configured is not None and configured.retry is not None:
            table["retry"] = converter.unstructure(configured.retry)
        if configured is not None and configured.rate_limit is not None:
            table["rate_limit"] = str(configured.rate_limit)
        resolved[name] = redact(table)
    return resolved


def _locate(
    error: ConfigurationError, config: BroadcastioConfig, *, from_order: bool
) -> ConfigurationError:
    """Re-word an assembly error with the configuration key (and file) it comes from."""
    details = error.details
    provider = details.get("provider")
    if "problems" in details and provider:
        # "timeout: expected a list, got str" -> "providers.whatsapp.timeout: ..."
        known = ", ".join(details.get("known", []))
        lines = [
            f"providers.{provider}.{unknown}: unknown setting for {provider!r}"
            + (f"; expected one of: {known}, retry, rate_limit" if known else "")
            for unknown in details.get("unknown_settings", [])
        ]
        for problem in details["problems"]:
            field, _, text = str(problem).partition(": ")
            if field == "<root>" and details.get("unknown_settings"):
                continue  # the unknown settings, already listed one by one
            key = f"providers.{provider}" if field == "<root>" else f"providers.{provider}.{field}"
            lines.append(f"{key}: {text}")
        message = "; ".join(lines)
    elif "unknown" in details:
        available = ", ".join(details.get("available", [])) or "none"
        message = "; ".join(
            f"providers.{name}: no installed plugin provides {name!r} (available: {available})"
            for name in details["unknown"]
        )
    elif "order" in details or (provider and "available" in details):
        if not from_order:
            # The order came from the caller (order=, --provider), not the file.
            return ConfigurationError(
                f"order: {error.message}", code=error.code, details={**details, "key": "order"}
            )
        message = f"orchestrator.order: {error.message}"
    elif provider and "setting" in details:
        message = f"providers.{provider}.{details['setting']}: {error.message}"
    elif provider:
        message = f"providers.{provider}: {error.message}"
    else:
        message = error.message
    if config.source.path is not None:
        message = f"{config.source.path}: {message}"
    return ConfigurationError(message, code=error.code, details=dict(details))

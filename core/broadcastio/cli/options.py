"""Options shared by several commands, so ``send`` and later commands spell them alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

__all__ = ["json_option", "provider_option", "provider_names", "require_healthy_option"]

F = TypeVar("F", bound=Callable[..., Any])


def provider_names(instances: Iterable[str] = ()) -> list[str]:
    """What ``--provider`` accepts: ``instances`` and the installed provider types.

    A type's own name is its default instance, so both kinds are valid.
    """
    from broadcastio.plugins.manager import PluginManager
    from broadcastio.plugins.registry import collect_providers

    plugin_manager = PluginManager()
    plugin_manager.load_entry_points()
    return sorted({*instances, *collect_providers(plugin_manager)})


def _complete_provider(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    # Completion must never print a traceback into a shell: a file that cannot
    # be read still leaves the types to offer, and a broken plugin set nothing.
    try:
        names = provider_names(_configured_instances(ctx))
    except Exception:  # noqa: BLE001
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _configured_instances(ctx: click.Context) -> list[str]:
    """The instance names of the file a send would read: ``--config`` if typed, else the lookup."""
    from broadcastio.cli.state import CliState

    state = ctx.find_object(CliState) or CliState()
    try:
        return list(state.load_config().providers)
    except Exception:  # noqa: BLE001 - see _complete_provider
        return []


def json_option(function: F) -> F:
    """``--json``: the result as JSON on stdout, for scripts and ``jq``."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the result as JSON on stdout (never silenced by --quiet).",
    )(function)


def provider_option(function: F) -> F:
    """``--provider NAME`` (repeatable): the chain to use, in order, instead of the file's."""
    return click.option(
        "--provider",
        "providers",
        multiple=True,
        metavar="NAME",
        shell_complete=_complete_provider,
        help="Send through this provider instance (a [providers.NAME] table of the "
        "configuration, or a provider type's name); repeat to give a chain, tried in order. "
        "Overrides orchestrator.order from the configuration.",
    )(function)


def require_healthy_option(function: F) -> F:
    """``--require-healthy/--no-require-healthy``: override ``orchestrator.require_healthy``."""
    return click.option(
        "--require-healthy/--no-require-healthy",
        default=None,
        help="Fail (exit 1) without attempting when no provider reports itself ready, "
        "instead of trying them all anyway. Default: orchestrator.require_healthy.",
    )(function)

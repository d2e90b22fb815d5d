"""``broadcastio plugins``: what is installed, what each plugin provides, and what is broken.

A plugin provides provider *types* (``whatsapp``, ``email``); the instances a
configuration makes of them (``[providers.NAME]`` with ``type = "..."``) are
``broadcastio config``'s to list, since they come from a file, not a plugin.

It loads the plugins exactly as a send would (same entry points, same
``BROADCASTIO_LOAD_PLUGINS`` / ``BROADCASTIO_DISABLE_PLUGINS`` filters) but
builds no provider, so it stays fast and never touches the network. A broken
plugin is listed with its error instead of stopping the listing: this is the
command a user runs to find out why a provider is missing. It exits 0 whenever
it could list; check ``error`` in the JSON to fail a script on broken plugins.
"""

from __future__ import annotations

from typing import Any

import attrs
import click

from broadcastio.cli.options import json_option
from broadcastio.cli.output import echo_json, render_table
from broadcastio.errors import ConfigurationError
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import collect_providers

__all__ = ["PluginReport", "inspect_plugins", "plugins"]


@attrs.frozen
class PluginReport:
    """One installed plugin as ``broadcastio plugins`` shows it; ``error`` only if broken.

    ``providers`` holds the provider types the plugin registers.
    """

    name: str
    distribution: str | None
    version: str | None
    providers: tuple[str, ...] = ()
    hooks: tuple[str, ...] = ()
    error: str | None = None


def inspect_plugins() -> tuple[list[PluginReport], list[str]]:
    """Load the installed plugins; every plugin's report, and problems that concern several.

    The one problem of the second kind is two plugins registering the same
    provider name: it stops every send, so it is shown, not raised.
    """
    plugin_manager = PluginManager()
    plugin_manager.load_entry_points()
    problems: list[str] = []
    providers_of: dict[str, list[str]] = {}
    try:
        registrations = collect_providers(plugin_manager)
    except ConfigurationError as error:
        problems.append(error.message)
    else:
        for registration in registrations.values():
            providers_of.setdefault(registration.plugin, []).append(registration.name)
    reports = [
        PluginReport(
            name=info.name,
            distribution=info.distribution,
            version=info.version,
            providers=tuple(sorted(providers_of.get(info.name, []))),
            hooks=info.hooks,
        )
        for info in plugin_manager.describe()
    ]
    reports += [
        PluginReport(
            name=broken.name,
            distribution=broken.distribution,
            version=_version(broken.distribution),
            error=broken.error,
        )
        for broken in plugin_manager.broken_plugins
    ]
    return sorted(reports, key=lambda report: report.name), problems


def _version(distribution: str | None) -> str | None:
    """A broken plugin's version: its distribution is installed even if its code is not usable."""
    if distribution is None:
        return None
    from importlib import metadata as importlib_metadata

    try:
        return importlib_metadata.version(distribution)
    except importlib_metadata.PackageNotFoundError:
        return None


def _to_dict(report: PluginReport) -> dict[str, Any]:
    return {
        "name": report.name,
        "distribution": report.distribution,
        "version": report.version,
        "providers": list(report.providers),
        "hooks": list(report.hooks),
        "error": report.error,
    }


@click.command(short_help="List installed plugins, broken ones included.")
@json_option
def plugins(as_json: bool) -> None:
    """List installed plugins, the provider types they offer, their hooks, and why broken ones
    failed. The instances a configuration makes of those types are listed by
    `broadcastio config`.

    \b
    Examples:
      broadcastio plugins
      broadcastio plugins --json | jq -r '.plugins[] | select(.error) | .name'
    """
    reports, problems = inspect_plugins()
    if as_json:
        echo_json({"plugins": [_to_dict(report) for report in reports], "problems": problems})
        return
    working = [report for report in reports if report.error is None]
    broken = [report for report in reports if report.error is not None]
    if not reports:
        click.echo("no plugins installed (pip install broadcastio-dummy, for one)")
    if working:
        rows = [
            [
                report.name,
                report.distribution or "-",
                report.version or "-",
                ", ".join(report.providers) or "-",
                ", ".join(report.hooks) or "-",
            ]
            for report in working
        ]
        click.echo(render_table(["PLUGIN", "DISTRIBUTION", "VERSION", "TYPES", "HOOKS"], rows))
    if broken:
        click.echo("\nbroken plugins (skipped):" if working else "broken plugins (skipped):")
        for report in broken:
            origin = " ".join(part for part in (report.distribution, report.version) if part)
            label = f"{report.name} ({origin})" if origin else report.name
            click.echo(f"  {label}: {report.error}")
    for problem in problems:
        click.echo(f"problem: {problem}")

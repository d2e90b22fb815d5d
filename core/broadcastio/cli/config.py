"""``broadcastio config``: which file was used, and what it resolves to, secrets redacted.

Beyond printing, it builds the chain the way ``send`` would (without sending or
checking health), so it doubles as a configuration check: a bad setting, an
unknown provider or a plugin that cannot start exits 2 with the file and key.
The human form is written in the file's own syntax (TOML), so what you read is
what you would write; ``--json`` is the same data for programs.

The providers listed are instances: each ``[providers.NAME]`` table of the file
(its ``type`` shown first), and the default instance of every installed type
the file has no table for, which ``--provider TYPE`` would use.
"""

from __future__ import annotations

from typing import Any

import click

from broadcastio.cli.options import json_option
from broadcastio.cli.output import echo_json, toml_assignment
from broadcastio.cli.state import CliState, pass_state
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.retry import RetryPolicy
from broadcastio.records.serialization import unstructure
from broadcastio.errors import ConfigurationError

__all__ = ["config", "resolved_configuration"]


def resolved_configuration(state: CliState) -> dict[str, Any]:
    """Source, orchestrator settings, effective chain and every provider instance's settings.

    ``configured`` names the instances the file has a table for; the other
    entries of ``providers`` are installed types' default instances.
    """
    from broadcastio.config import build_orchestrator, resolved_providers
    from broadcastio.plugins.manager import PluginManager

    configuration = state.load_config()
    # One plugin manager for both: the plugins are imported once.
    plugin_manager = PluginManager()
    providers = resolved_providers(configuration, plugin_manager=plugin_manager)
    file_view = configuration.to_dict()
    settings = dict(file_view["orchestrator"])
    try:
        orchestrator = build_orchestrator(configuration, plugin_manager=plugin_manager)
    except ConfigurationError as error:
        if error.code is not ErrorCode.NO_PROVIDERS:
            raise
        # Showing the configuration is still useful when it names no provider:
        # the empty chain and the reason say what to add.
        chain: list[str] = []
        problem: str | None = error.message
        retry_policy = configuration.orchestrator.retry or RetryPolicy()
    else:
        # Built only to prove the chain can be built: its providers are released at once.
        with orchestrator:
            chain = [provider.name for provider in orchestrator.providers]
            problem = None
            retry_policy = orchestrator.retry_policy
    # Unset in the file means the default policy: show the policy that applies.
    settings["retry"] = unstructure(retry_policy)
    return {
        "source": file_view["source"],
        "orchestrator": settings,
        "chain": chain,
        "chain_problem": problem,
        "configured": sorted(configuration.providers),
        "providers": providers,
        # [broadcast] as the file sets it (URL passwords hidden); {} when unset.
        "broadcast": file_view.get("broadcast", {}),
    }


def _as_toml(data: dict[str, Any]) -> str:
    source = data["source"]
    where = source["path"] or "no file"
    lines = [
        f"# configuration: {where} ({source['origin']})",
        f"# chain: {', '.join(data['chain']) or 'none'}",
    ]
    if data["chain_problem"]:
        lines.append(f"# {data['chain_problem']}")
    lines += ["", "[orchestrator]"]
    if data["orchestrator"].get("order") is None:
        lines.append(
            "# order is not set: every configured provider that is not a test double, "
            "highest priority first"
        )
    lines += [
        toml_assignment(key, value)
        for key, value in data["orchestrator"].items()
        if not (key == "order" and value is None)
    ]
    if data["broadcast"]:
        lines += ["", "[broadcast]"]
        lines += [toml_assignment(key, value) for key, value in data["broadcast"].items()]
    for name, table in data["providers"].items():
        notes = [] if name in data["chain"] else ["not in the chain"]
        if name not in data["configured"]:
            notes.append("default instance of its type, no table")
        comment = f"  # {'; '.join(notes)}" if notes else ""
        lines += ["", f"[providers.{name}]{comment}"]
        lines += [toml_assignment(key, value) for key, value in table.items()]
    return "\n".join(lines)


@click.command(short_help="Show the configuration in use, secrets redacted.")
@json_option
@pass_state
def config(state: CliState, as_json: bool) -> None:
    """Show where the configuration came from and what it resolves to.

    Secrets (keys named like key, token, secret, password) are shown as ***.
    Exit 2, with the file and key, if the configuration is invalid.

    \b
    Examples:
      broadcastio config
      broadcastio --config ./prod.toml config --json | jq .chain
    """
    data = resolved_configuration(state)
    if as_json:
        echo_json(data)
    else:
        click.echo(_as_toml(data))

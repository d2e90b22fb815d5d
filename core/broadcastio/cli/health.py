"""``broadcastio health``: is each configured provider ready to take a message right now?

Each provider is checked once, in chain order, and timed: a health check can
be a network call, and a slow one is worth seeing. The exit code answers the
question a monitoring script asks: 0 if at least one provider can send, 1 if
none can.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import attrs
import click

from broadcastio.cli.exit_codes import ExitCode
from broadcastio.cli.options import json_option
from broadcastio.cli.output import echo_json, format_details, format_duration, render_table
from broadcastio.cli.state import CliState, pass_state
from broadcastio.records.health import ProviderHealth
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.records.serialization import unstructure

__all__ = ["HealthCheck", "check_all", "health"]

logger = logging.getLogger("broadcastio")


@attrs.frozen
class HealthCheck:
    """One provider's health report, when it was asked for and how long it took."""

    health: ProviderHealth
    checked_at: dt.datetime
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        """The report as ``--json`` prints it."""
        data: dict[str, Any] = unstructure(self.health)
        data["checked_at"] = self.checked_at.isoformat()
        data["check_ms"] = round(self.duration_ms, 3)
        return data


def check_all(orchestrator: Orchestrator) -> list[HealthCheck]:
    """Check every provider of the chain, in order, through the orchestrator's health cache."""
    checks = []
    for provider in orchestrator.providers:
        logger.info("checking the health of %s", provider.name)
        checked_at = dt.datetime.now(dt.timezone.utc)
        started = time.perf_counter()
        report = orchestrator.health_cache.get(provider)
        checks.append(HealthCheck(report, checked_at, (time.perf_counter() - started) * 1000))
    return checks


@click.command(short_help="Check the health of every configured provider.")
@json_option
@pass_state
def health(state: CliState, as_json: bool) -> None:
    """Check every configured provider. Exit 0 if any is ready, 1 if none is.

    \b
    Examples:
      broadcastio health
      broadcastio health --json | jq -r '.providers[] | select(.ready) | .provider'
    """
    checks = check_all(state.build_orchestrator())
    any_ready = any(check.health.ready for check in checks)
    if as_json:
        echo_json({"any_ready": any_ready, "providers": [check.to_dict() for check in checks]})
    elif not (state.quiet and any_ready):
        rows = [
            [
                check.health.provider,
                "yes" if check.health.ready else "no",
                format_duration(check.duration_ms),
                format_details(check.health.details),
            ]
            for check in checks
        ]
        click.echo(render_table(["PROVIDER", "READY", "CHECK", "DETAILS"], rows))
    if not any_ready:
        raise click.exceptions.Exit(ExitCode.FAILED)

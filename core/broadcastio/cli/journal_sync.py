"""``broadcastio journal sync ID``: pull a broadcast's delivery receipts into its journal.

Unlike the other ``journal`` commands this one writes (the ``receipts``
table; opening an older journal upgrades it to schema version 3), so the
journal is opened for writing, never created. The providers are built from
the configuration under the instance names the journal recorded, one by one:
an instance the configuration cannot build (removed since, or a provider
type without receipts that needs settings) is reported and its rows stay
"unknown", while the others are still synced. A provider that cannot be
asked (a bridge down) makes the command exit 1 after syncing the rest.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import attrs
import click

from broadcastio.cli.journal_path import JournalLocation, JournalLocationType

from broadcastio.cli.exit_codes import ExitCode
from broadcastio.cli.options import json_option
from broadcastio.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from broadcastio.broadcast.journal.receipts import ReceiptCounts
    from broadcastio.broadcast.receipts import ReceiptSync

__all__ = ["ChainOfInstances", "receipts_line", "sync", "sync_report_lines"]


@attrs.frozen
class ChainOfInstances:
    """The providers a sync asks, by instance name, and the plugin manager ``on_receipt`` uses.

    It owns the orchestrators it was built from (``build_chain`` may build one
    per instance): ``close()``, or leaving a ``with chain:`` block, closes them
    and so every provider's session. Inside a command the command's end would
    close them too (``CliState.build_orchestrator``); outside one (a script
    calling ``build_chain``) nothing else would.
    """

    providers: tuple[Any, ...]
    plugin_manager: Any
    orchestrators: tuple[Any, ...] = ()

    def close(self) -> None:
        """Close every orchestrator the chain was built from (each closes once)."""
        for orchestrator in self.orchestrators:
            orchestrator.close()

    def __enter__(self) -> ChainOfInstances:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def receipts_line(counts: ReceiptCounts) -> str:
    """One line a person reads: how far the broadcast's accepted messages got."""
    line = f"receipts: {counts.sent} sent, {counts.device} delivered to device, {counts.read} read"
    waiting = counts.pending + counts.server
    if waiting:
        line += f", {waiting} not yet on the device"
    if counts.error:
        line += f", {counts.error} failed after sending"
    if counts.unknown:
        line += f", {counts.unknown} unknown (no receipt from the provider yet, or none at all)"
    return line


def sync_report_lines(result: ReceiptSync, not_built: Collection[str] = ()) -> list[str]:
    """The lines after a sync: what changed, which providers have no receipts, which failed.

    Providers in ``not_built`` (left out of the chain, with a warning of their
    own) are not listed as providers without receipts: nobody asked them.
    """
    lines = [f"asked {result.asked} message(s); {len(result.changes)} receipt change(s) recorded"]
    for name, count in sorted(result.without_receipts.items()):
        if name not in not_built:
            lines.append(f"{name}: {count} row(s) without receipts (the provider reports none)")
    for name, error in sorted(result.failures.items()):
        lines.append(f"{name}: cannot be asked: {error.message}")
    return lines


def build_chain(state: CliState, names: list[str]) -> tuple[ChainOfInstances, dict[str, str]]:
    """Providers for ``names`` from the configuration; and why each one not built was left out.

    All at once first (one plugin load); if the configuration cannot build
    them all, one by one, so one bad instance does not stop the others.
    """
    from broadcastio.errors import BroadcastioError

    if not names:
        return ChainOfInstances((), None), {}
    try:
        orchestrator = state.build_orchestrator(names)
        chain = ChainOfInstances(
            orchestrator.providers, orchestrator.plugin_manager, (orchestrator,)
        )
        return chain, {}
    except BroadcastioError:
        pass
    built: list[Any] = []
    left_out: dict[str, str] = {}
    try:
        for name in names:
            try:
                built.append(state.build_orchestrator([name]))
            except BroadcastioError as error:
                left_out[name] = error.problem
    except BaseException:
        # Ctrl-C or a bug while building the next one: close what was built.
        for orchestrator in built:
            orchestrator.close()
        raise
    providers = tuple(provider for orchestrator in built for provider in orchestrator.providers)
    manager = built[-1].plugin_manager if built else None
    return ChainOfInstances(providers, manager, tuple(built)), left_out


@click.command(short_help="Pull delivery receipts of a broadcast into the journal.")
@click.argument("broadcast_id", metavar="ID")
@click.option(
    "--journal",
    "journal_path",
    type=JournalLocationType(),
    help="The journal: a file (SQLite), sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB. "
    "Default: $BROADCASTIO_JOURNAL, else the user state directory.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(0, 86_400),
    default=0,
    metavar="SECONDS",
    help="Keep syncing for up to SECONDS until every message that can have a receipt "
    "reached the recipient's device (or failed).",
)
@json_option
@pass_state
def sync(
    state: CliState,
    broadcast_id: str,
    journal_path: JournalLocation | None,
    wait_seconds: float,
    as_json: bool,
) -> None:
    """Ask the providers that delivered broadcast ID for their receipts, and journal them.

    Only providers that report receipts (WhatsApp) are asked, for the rows
    they delivered, in batches; the rows of the others stay "unknown". Each
    change recorded fires the on_receipt hook. Then prints the counts
    (sent, delivered to device, read).

    \b
    Examples:
      broadcastio journal sync daily-2026-11-22
      broadcastio journal sync daily-2026-11-22 --wait 60 --json
    """
    from broadcastio.broadcast import Journal, JournalError
    from broadcastio.broadcast.journal import JournalOperation
    from broadcastio.broadcast.journal.receipts import delivered_providers, receipt_counts
    from broadcastio.broadcast.receipts import wait_for_receipts
    from broadcastio.cli.journal_path import command_journal

    try:
        journal = Journal(command_journal(journal_path), create=False)
    except JournalError as error:
        raise error.during(JournalOperation.READ) from error
    with journal:
        names = list(delivered_providers(journal, broadcast_id))
        chain, left_out = build_chain(state, names)
        with chain:
            result = wait_for_receipts(chain, journal, broadcast_id, wait_seconds)
        counts = receipt_counts(journal, broadcast_id)
    if as_json:
        data = {
            "broadcast_id": broadcast_id,
            "receipts": counts.to_dict(),
            "asked": result.asked,
            "changes": len(result.changes),
            "waiting": result.waiting,
            "without_receipts": {
                name: count
                for name, count in result.without_receipts.items()
                if name not in left_out
            },
            "not_built": left_out,
            "failures": {name: error.message for name, error in result.failures.items()},
        }
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for name, reason in sorted(left_out.items()):
            click.echo(
                f"broadcastio: warning: provider {name!r} cannot be built from the "
                f"configuration, its rows stay unknown: {reason}",
                err=True,
            )
        for line in sync_report_lines(result, left_out):
            click.echo(line)
        click.echo(receipts_line(counts))
    if result.failures:
        raise click.exceptions.Exit(ExitCode.FAILED)

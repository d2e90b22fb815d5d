"""``broadcastio journal list | show | export``: what the broadcast journal knows.

Read-only: the journal is opened without creating it, and a broadcast still
running in another process can be watched (SQLite's WAL mode lets readers and
the writer proceed together).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from broadcastio.cli.options import json_option

if TYPE_CHECKING:
    from broadcastio.broadcast import Journal, JournalRow

__all__ = ["journal"]

F = TypeVar("F", bound=Callable[..., Any])
_STATES = ["pending", "in_flight", "delivered", "failed", "ambiguous"]


def _journal_option(function: F) -> F:
    return click.option(
        "--journal",
        "journal_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The journal file. Default: $BROADCASTIO_JOURNAL, else the user state directory.",
    )(function)


def _state_option(function: F) -> F:
    return click.option(
        "--state",
        type=click.Choice(_STATES),
        help="Only recipients in this state.",
    )(function)


def _open(journal_path: Path | None) -> Journal:
    from broadcastio.broadcast import Journal
    from broadcastio.cli.journal_path import default_journal_path

    return Journal(journal_path or default_journal_path(), create=False)


@click.group(short_help="Inspect and export the broadcast journal.")
def journal() -> None:
    """Inspect the journal of past and running broadcasts, and export it as CSV."""


@journal.command("list", short_help="Every broadcast in the journal.")
@_journal_option
@json_option
def list_broadcasts(journal_path: Path | None, as_json: bool) -> None:
    """Every broadcast in the journal, oldest first, with its runs and last outcome."""
    from broadcastio.cli.output import echo_json, render_table

    with _open(journal_path) as opened:
        infos = opened.broadcasts()
        if as_json:
            echo_json([info.to_dict() for info in infos])
            return
        rows = []
        for info in infos:
            counts = opened.summary(info.broadcast_id)
            states = ", ".join(f"{count} {state}" for state, count in counts.items() if count)
            report = info.last_report
            if report is None or report.run < info.runs:
                states += " (the last run did not finish: crashed, or still running)"
            elif report.interrupted:
                states += " (last run interrupted)"
            updated = f"{info.updated_at:%Y-%m-%d %H:%M:%S}"
            rows.append([info.broadcast_id, updated, str(info.runs), states])
    click.echo(render_table(["id", "updated (UTC)", "runs", "recipients"], rows))


@journal.command(short_help="One broadcast: counts by state, then every recipient.")
@click.argument("broadcast_id", metavar="ID")
@_journal_option
@_state_option
@json_option
def show(journal_path: Path | None, broadcast_id: str, state: str | None, as_json: bool) -> None:
    """Broadcast ID: how many recipients are in each state, then one line per recipient.

    With --json: {"broadcast": ..., "summary": {state: count}, "rows": [...]}.
    """
    from broadcastio.cli.output import render_table

    with _open(journal_path) as opened:
        info = opened.info(broadcast_id)
        counts = opened.summary(broadcast_id)
        rows = opened.rows(broadcast_id, state=state)
        if as_json:
            _stream_json(info.to_dict(), {str(k): v for k, v in counts.items()}, rows)
            return
        click.echo(
            f"broadcast {broadcast_id}: {sum(counts.values())} recipients, {info.runs} run(s); "
            + ", ".join(f"{count} {name}" for name, count in counts.items())
        )
        click.echo(
            render_table(
                ["recipient", "state", "provider", "message id", "attempts", "error"],
                (_row_cells(row) for row in rows),
            )
        )


@journal.command(short_help="One broadcast's rows as CSV.")
@click.argument("broadcast_id", metavar="ID")
@_journal_option
@_state_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV here instead of stdout.",
)
def export(
    journal_path: Path | None, broadcast_id: str, state: str | None, output: Path | None
) -> None:
    """Broadcast ID's rows as CSV (a header, then one line per recipient)."""
    with _open(journal_path) as opened:
        opened.info(broadcast_id)  # an unknown id fails before an output file is created
        if output is None:
            opened.export_csv(broadcast_id, sys.stdout, state=state)
            return
        try:
            handle = open(output, "w", encoding="utf-8", newline="")
        except OSError as error:
            raise click.BadParameter(
                f"cannot write {str(output)!r}: {error.strerror or error}", param_hint="'--output'"
            ) from None
        with handle:
            count = opened.export_csv(broadcast_id, handle, state=state)
    click.echo(f"wrote {count} rows to {output}", err=True)


def _row_cells(row: JournalRow) -> list[str]:
    error = "" if row.error_code is None else f"{row.error_code}: {row.error_message or ''}"
    return [
        row.recipient,
        str(row.state),
        row.provider or "-",
        row.message_id or "-",
        str(row.attempts),
        " ".join(error.split()),
    ]


def _stream_json(info: dict[str, Any], summary: dict[str, int], rows: Any) -> None:
    """One JSON document written a row at a time, so a huge broadcast needs no memory."""
    out = sys.stdout
    out.write('{"broadcast": ' + json.dumps(info, ensure_ascii=False))
    out.write(', "summary": ' + json.dumps(summary) + ', "rows": [')
    for number, row in enumerate(rows):
        out.write(("\n  " if number == 0 else ",\n  ") + json.dumps(row.to_dict()))
    out.write("\n]}\n")
    out.flush()

"""``broadcastio journal list | show | export | sync``: what the broadcast journal knows.

``sync`` (``journal_sync``) writes the receipts it pulls from the providers;
the others are read-only: SQLite opens the journal read-only (``Journal(read_only=True)``), so
these commands cannot change it, and a broadcast still running in another
process can be watched (SQLite's WAL mode lets readers and the writer proceed
together).

What they print comes partly from outside: recipients from files, error
messages from providers and the bridge. ``show`` and ``list`` strip terminal
control sequences and characters from it, so a recipient cannot move the
cursor, retitle the terminal or hide a line, and show Unicode's bidirectional
controls as visible escapes (``\\u202e``), so a recipient cannot make its row, or
the cells after it, read in another order than they are. ``export`` writes its CSV
spreadsheet-safe (``Journal.export_csv``) and atomically: a temporary file in
the output's directory, renamed over the output once complete, and never the
journal itself or its ``-wal`` / ``-shm`` files.

They only read, so a problem with the file is reported with the advice for
reading it (``JournalOperation.READ``), not the advice for a broadcast run.
A journal an older broadcastio wrote (an older schema version) is read as it
is, with a note on stderr saying so: these commands never upgrade it, a
broadcast run writing to it does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click

from broadcastio.cli.journal_path import JournalLocation, JournalLocationType

from broadcastio.cli.journal_sync import receipts_line
from broadcastio.cli.journal_sync import sync as sync_command
from broadcastio.cli.options import json_option
from broadcastio.cli.same_file import refuse_overwriting_inputs
from broadcastio.records.contact import shown_address

if TYPE_CHECKING:
    from broadcastio.broadcast import Journal, JournalRow

__all__ = ["journal"]

F = TypeVar("F", bound=Callable[..., Any])
_STATES = ["pending", "in_flight", "delivered", "failed", "ambiguous"]

# Terminal control: whole escape sequences first (CSI, OSC and the other string
# controls up to their terminator, two-character escapes), 7-bit and 8-bit
# forms, then any C0 or C1 control character left, DEL included.
_CONTROL = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|\Z)"  # OSC, DCS...
    r"|\x1b[ -/]*[0-~]?"  # other escapes (or a lone ESC)
    r"|[\x00-\x1f\x7f-\x9f]"
    r"|(?P<bidi>[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069])",
    re.DOTALL,
)


def printable(text: str) -> str:
    """``text`` without terminal control sequences or control characters.

    Whitespace controls (tab, newline, CR) become a space so words stay apart;
    everything else that could drive the terminal is removed. Unicode's
    bidirectional controls (the marks U+061C, U+200E, U+200F, the embeddings,
    overrides and isolates U+202A-U+202E and U+2066-U+2069) are not terminal
    controls, but a terminal that renders them reorders the text around them:
    a recipient ending in U+202E makes the rest of its row read backwards. They
    become a visible escape such as ``\\u202e`` rather than vanishing, so the row
    still shows that something was there.
    """

    def replace(found: re.Match[str]) -> str:
        if found.group("bidi"):
            return f"\\u{ord(found.group()):04x}"
        return " " if found.group() in "\t\n\r" else ""

    return _CONTROL.sub(replace, text)


def _journal_option(function: F) -> F:
    return click.option(
        "--journal",
        "journal_path",
        type=JournalLocationType(),
        help="The journal: a file (SQLite), sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB. "
        "Default: $BROADCASTIO_JOURNAL, else the user state directory.",
    )(function)


def _state_option(function: F) -> F:
    return click.option(
        "--state",
        type=click.Choice(_STATES),
        help="Only recipients in this state.",
    )(function)


@contextlib.contextmanager
def _open(journal_path: JournalLocation | None) -> Iterator[Journal]:
    """The journal, opened read-only; a ``JournalError`` inside carries the advice for reading.

    The error comes from the journal's lower layers, which do not know that
    the whole command only reads; here that is known, and added as a field.
    """
    from broadcastio.broadcast import Journal, JournalError
    from broadcastio.broadcast.journal import SCHEMA_VERSION, JournalOperation
    from broadcastio.cli.journal_path import command_journal

    try:
        with Journal(command_journal(journal_path), read_only=True) as opened:
            if opened.schema_version < SCHEMA_VERSION:
                _note_older_schema(opened.location, opened.schema_version, SCHEMA_VERSION)
            yield opened
    except JournalError as error:
        raise error.during(JournalOperation.READ) from error


def _note_older_schema(path: str, found: int, current: int) -> None:
    """Tell the reader an old journal is read as it is, and that nothing of it is lost.

    On stderr, so the JSON and CSV on stdout stay what they are.
    """
    lacking = (
        "its rows have no contact columns (the person's id and addresses, the address used) "
        "and it has no receipts"
        if found < 2
        else "it has no receipts (journal sync adds them)"
    )
    click.echo(
        f"broadcastio: note: journal {printable(str(path))} has schema version {found} "
        f"(an older broadcastio wrote it); it is read as it is, unchanged, and nothing in it "
        f"is lost; {lacking}, and the next broadcast run or journal sync writing to it "
        f"upgrades it to version {current} in place",
        err=True,
    )


@click.group(short_help="Inspect, export and sync the broadcast journal.")
def journal() -> None:
    """Inspect the journal of past and running broadcasts, export it as CSV, sync receipts."""


@journal.command("list", short_help="Every broadcast in the journal.")
@_journal_option
@json_option
def list_broadcasts(journal_path: JournalLocation | None, as_json: bool) -> None:
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
            rows.append([printable(info.broadcast_id), updated, str(info.runs), states])
    click.echo(render_table(["id", "updated (UTC)", "runs", "recipients"], rows))


@journal.command(short_help="One broadcast: counts by state, then every recipient.")
@click.argument("broadcast_id", metavar="ID")
@_journal_option
@_state_option
@json_option
def show(
    journal_path: JournalLocation | None, broadcast_id: str, state: str | None, as_json: bool
) -> None:
    """Broadcast ID: how many recipients are in each state, then one line per recipient.

    A contact shows as its id and addresses (id (email=..., phone=...)), and
    "address" is the one the provider used (kind=address). A last line
    counts receipts: of the messages sent (accepted by a provider), how many
    reached the device and were read, as far as `journal sync` learned;
    "unknown" for providers without receipts (never "delivered").

    With --json: {"broadcast": ..., "summary": {state: count}, "receipts":
    {sent, pending, server, device, read, error, unknown}, "rows": [...]}.
    """
    from broadcastio.broadcast.journal.receipts import receipt_counts
    from broadcastio.cli.output import render_table

    with _open(journal_path) as opened:
        info = opened.info(broadcast_id)
        counts = opened.summary(broadcast_id)
        receipts = receipt_counts(opened, broadcast_id)
        rows = opened.rows(broadcast_id, state=state)
        if as_json:
            _stream_json(
                info.to_dict(), {str(k): v for k, v in counts.items()}, rows, receipts.to_dict()
            )
            return
        click.echo(
            f"broadcast {printable(broadcast_id)}: {sum(counts.values())} recipients, "
            f"{info.runs} run(s); " + ", ".join(f"{count} {name}" for name, count in counts.items())
        )
        click.echo(
            render_table(
                ["recipient", "state", "provider", "address", "message id", "attempts", "error"],
                (_row_cells(row) for row in rows),
            )
        )
        click.echo(receipts_line(receipts))


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
    journal_path: JournalLocation | None, broadcast_id: str, state: str | None, output: Path | None
) -> None:
    """Broadcast ID's rows as CSV (a header, then one line per recipient).

    A cell a spreadsheet would run as a formula (starting with =, +, -, @, a tab
    or CR, and not a plain number such as +15551234567) is written with a
    leading '. With -o the file is written whole or not at all.

    The last columns are the receipt (receipt, receipt_updated_at,
    delivered_at, read_at): for a delivered row its state (pending, server,
    device, read, played, error) or "unknown", empty for the other rows.
    """
    from broadcastio.broadcast.journal.receipts import export_csv_with_receipts

    with _open(journal_path) as opened:
        opened.info(broadcast_id)  # an unknown id fails before an output file is created
        if output is None:
            export_csv_with_receipts(opened, broadcast_id, sys.stdout, state=state)
            return
        journal_file = opened.path  # None for a journal on a server: no file to protect
        inputs: dict[str, Path | None] = {"--journal": journal_file}
        for suffix in ("-wal", "-shm", "-journal"):  # SQLite's files next to the journal
            if journal_file is not None:
                inputs[f"the journal's {suffix} file"] = journal_file.with_name(
                    journal_file.name + suffix
                )
        refuse_overwriting_inputs("--output", output, inputs)
        count = _write_atomically(
            output,
            lambda handle: export_csv_with_receipts(opened, broadcast_id, handle, state=state),
        )
    click.echo(f"wrote {count} rows to {output}", err=True)


def _write_atomically(output: Path, write: Callable[[TextIO], int]) -> int:
    """Run ``write`` on a temporary file next to ``output``, then rename it over ``output``.

    A failure half-way (a damaged journal page, a full disk, Ctrl-C) leaves
    ``output`` as it was. A symbolic link is followed, so its target gets the
    new content. An output that exists and is not a regular file (a pipe,
    ``/dev/stdout``) cannot be replaced and is written directly.
    """
    target = output.resolve()
    try:
        existing = target.stat()
    except OSError:
        existing = None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        stream = _opened_for_writing(
            output, lambda: open(output, "w", encoding="utf-8", newline="")
        )
        with stream:
            return write(stream)
    descriptor, temporary = _opened_for_writing(
        output,
        lambda: tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent),
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            count = write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the mode the output has,
        # or the one a plain open() would have given a new file.
        if existing is not None:
            mode = stat.S_IMODE(existing.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return count


_T = TypeVar("_T")


def _opened_for_writing(output: Path, opener: Callable[[], _T]) -> _T:
    """``opener()``, with an ``OSError`` turned into a usage error naming ``--output``."""
    try:
        return opener()
    except OSError as error:
        raise click.BadParameter(
            f"cannot write {str(output)!r}: {error.strerror or error}", param_hint="'--output'"
        ) from None


def _row_cells(row: JournalRow) -> list[str]:
    error = "" if row.error_code is None else f"{row.error_code}: {row.error_message or ''}"
    contact = row.contact
    if row.address is None:
        address = "-"
    elif row.address_kind is None:
        address = shown_address(row.address)
    else:
        # A webhook address is a URL whose path is its credential: shown as https://host/***.
        address = f"{row.address_kind}={shown_address(row.address)}"
    return [
        # The person, not their key: the key of a contact with an id is only {"id": ...}.
        printable(row.recipient if contact is None else str(contact)),
        str(row.state),
        printable(row.provider or "-"),
        printable(address),
        printable(row.message_id or "-"),
        str(row.attempts),
        " ".join(printable(error).split()),
    ]


def _stream_json(
    info: dict[str, Any], summary: dict[str, int], rows: Any, receipts: dict[str, int]
) -> None:
    """One JSON document written a row at a time, so a huge broadcast needs no memory."""
    out = sys.stdout
    # ASCII-escaped, like the rows: C1 controls (U+0080-U+009F) stay out of the terminal.
    out.write('{"broadcast": ' + json.dumps(info))
    out.write(', "summary": ' + json.dumps(summary))
    out.write(', "receipts": ' + json.dumps(receipts) + ', "rows": [')
    for number, row in enumerate(rows):
        out.write(("\n  " if number == 0 else ",\n  ") + json.dumps(row.to_dict()))
    out.write("\n]}\n")
    out.flush()


journal.add_command(sync_command)

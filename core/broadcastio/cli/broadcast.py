"""``broadcastio broadcast``: one message to every recipient of a file, journaled and resumable.

The order of events is the safety argument: every row of the recipient file is
checked (recipient present, template variables available, a message can be
built) before the configuration is even loaded, so a bad row 9,000 stops the
run with nothing sent. Then the broadcast runs with the journal on by default;
the first Ctrl-C stops dispatching and lets the sends under way finish and be
journaled, a second one aborts at once.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import click

from broadcastio.cli.exit_codes import ExitCode
from broadcastio.cli.options import json_option, provider_option, require_healthy_option
from broadcastio.cli.send import read_text_file
from broadcastio.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from broadcastio.broadcast import BroadcastReport, RecipientOutcome
    from broadcastio.broadcast.recipients import RecipientFile, Template
    from broadcastio.core.message import Attachment, Message

__all__ = ["broadcast"]


@click.command(short_help="Send one message to every recipient of a CSV or JSON Lines file.")
@click.option(
    "--recipients",
    "recipients_path",
    required=True,
    metavar="FILE",
    help="CSV with a 'recipient' column (other columns are template variables), JSON Lines "
    "with a 'recipient' key, or - for stdin.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "jsonl"]),
    help="Recipient file format. Default: from the extension (.jsonl/.ndjson/.json are JSON "
    "Lines), or sniffed on stdin.",
)
@click.option("--text", metavar="TEMPLATE", help="Message template, e.g. 'Hello {name}'.")
@click.option(
    "--text-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the message template from a file (UTF-8).",
)
@click.option(
    "--attach",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file sent to every recipient (the text is its caption).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Sends in flight at once. Provider rate limits still apply to all of them together.",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite journal. Default: $BROADCASTIO_JOURNAL, else the user state directory.",
)
@click.option("--no-journal", is_flag=True, help="Keep no journal: no resume, no crash safety.")
@click.option(
    "--id", "broadcast_id", metavar="ID", help="Name this broadcast (default: generated)."
)
@click.option(
    "--resume",
    "resume_id",
    metavar="ID",
    help="Continue broadcast ID from the journal: delivered recipients are skipped.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --resume/--id: send again to recipients that failed or were ambiguous.",
)
@click.option(
    "--results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JSON line per recipient outcome to this file.",
)
@provider_option
@require_healthy_option
@json_option
@pass_state
def broadcast(
    state: CliState,
    recipients_path: str,
    file_format: str | None,
    text: str | None,
    text_file: Path | None,
    attach: Path | None,
    concurrency: int,
    journal_path: Path | None,
    no_journal: bool,
    broadcast_id: str | None,
    resume_id: str | None,
    retry_failed: bool,
    results_path: Path | None,
    providers: tuple[str, ...],
    require_healthy: bool | None,
    as_json: bool,
) -> None:
    """Send one message, a template filled from each row, to every recipient of FILE.

    Every row is checked before the first send. The journal records each
    recipient's state, so a rerun with --resume ID (after a crash, Ctrl-C or
    failures) never sends twice to a recipient that got the message.

    \b
    Examples:
      broadcastio broadcast --recipients team.csv --text "Hi {name}, the report is out"
      broadcastio broadcast --recipients team.csv --text-file note.txt --id daily-2026-11-22
      broadcastio broadcast --recipients team.csv --text-file note.txt --resume daily-2026-11-22
    """
    from broadcastio.broadcast.recipients import Template, open_recipient_file
    from broadcastio.core.message import Attachment

    if broadcast_id is not None and resume_id is not None:
        raise click.UsageError("give --id for a new broadcast or --resume for an existing one")
    if retry_failed and broadcast_id is None and resume_id is None:
        raise click.UsageError("--retry-failed needs the broadcast to retry: --resume ID")
    if no_journal and (journal_path is not None or resume_id is not None or retry_failed):
        raise click.UsageError("--no-journal cannot be combined with --journal or --resume")
    if text is not None and text_file is not None:
        raise click.UsageError("give the template with --text or --text-file, not both")
    template_text = text if text_file is None else read_text_file(text_file)
    if template_text is None and attach is None:
        raise click.UsageError("nothing to send: give --text, --text-file or --attach")
    template = None if template_text is None else Template(template_text)
    attachment = None
    if attach is not None:
        attachment = Attachment(attach)
        attachment.ensure_readable()

    recipients = open_recipient_file(recipients_path, kind=file_format)
    total = sum(1 for _ in _messages(recipients, template, attachment))

    overrides: dict[str, Any] = {}
    if require_healthy is not None:
        overrides["require_healthy"] = require_healthy
    orchestrator = state.build_orchestrator(providers, **overrides)
    journal = None if no_journal else _open_journal(journal_path, resume_id)

    report = _run(
        state,
        orchestrator,
        _messages(recipients, template, attachment),
        total=total,
        concurrency=concurrency,
        journal=journal,
        broadcast_id=resume_id or broadcast_id,
        retry_failed=retry_failed,
        results_path=results_path,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif not (state.quiet and _all_delivered(report)):
        click.echo(summary(report))
    if report.interrupted:
        journal_hint = f" --journal {journal.path}" if journal and journal_path else ""
        click.echo(
            "broadcastio: interrupted; sends under way finished and were journaled. "
            f"Resume with the same arguments and --resume {report.broadcast_id}{journal_hint}"
            if journal is not None
            else "broadcastio: interrupted; without a journal this broadcast cannot be resumed",
            err=True,
        )
        raise click.exceptions.Exit(ExitCode.INTERRUPTED)
    if not _all_delivered(report):
        raise click.exceptions.Exit(ExitCode.FAILED)


def _run(
    state: CliState,
    orchestrator: Any,
    messages: Iterator[Message],
    *,
    total: int,
    concurrency: int,
    journal: Any,
    broadcast_id: str | None,
    retry_failed: bool,
    results_path: Path | None,
) -> BroadcastReport:
    from broadcastio.broadcast import iter_broadcast

    stop = threading.Event()
    run = iter_broadcast(
        orchestrator,
        messages,
        concurrency=concurrency,
        journal=journal,
        broadcast_id=broadcast_id,
        retry_failed=retry_failed,
        stop=stop,
    )
    show_progress = not state.quiet and sys.stderr.isatty()
    with contextlib.ExitStack() as stack:
        if journal is not None:
            stack.callback(journal.close)  # also when the run ends in an exception
        stack.enter_context(_first_interrupt_stops(stop))
        results = stack.enter_context(_open_results(results_path))
        progress = stack.enter_context(_Progress(total, show_progress))
        with run:
            for outcome in run:
                progress.update(outcome)
                if results is not None:
                    results.write(json.dumps(outcome.to_dict(), ensure_ascii=False) + "\n")
                    results.flush()
    assert run.report is not None
    return run.report


def _messages(
    recipients: RecipientFile, template: Template | None, attachment: Attachment | None
) -> Iterator[Message]:
    """One ``Message`` per row, built (and so validated) lazily; errors name the line."""
    from broadcastio.core.message import Message
    from broadcastio.errors import ValidationError

    for row in recipients.rows():
        recipients.check_row(row, template)
        content = None if template is None else template.render(row.variables)
        try:
            message = Message(row.recipient, content, attachment=attachment)
        except ValidationError as exc:
            raise recipients.error(row.line, exc.message) from None
        yield message


def _open_journal(journal_path: Path | None, resume_id: str | None) -> Any:
    from broadcastio.broadcast import Journal
    from broadcastio.cli.journal_path import default_journal_path

    path = journal_path if journal_path is not None else default_journal_path()
    if resume_id is not None:
        journal = Journal(path, create=False)
        journal.info(resume_id)  # an unknown id is a ValidationError (exit 2) naming it
        return journal
    if journal_path is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return Journal(path)


@contextlib.contextmanager
def _first_interrupt_stops(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C: stop dispatching and finish cleanly. Second: the usual KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. under a test runner)
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        click.echo(
            "broadcastio: stopping: waiting for the sends under way (Ctrl-C again to abort)",
            err=True,
        )

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _open_results(path: Path | None) -> Iterator[IO[str] | None]:
    if path is None:
        yield None
        return
    try:
        handle = open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {str(path)!r}: {exc}", param_hint="'--results'"
        ) from None
    with handle:
        yield handle


class _Progress:
    """A progress bar on stderr (counts, rate, ETA), only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.delivered = 0
        self.failed = 0
        self._bar: Any = None
        if enabled:
            self._bar = click.progressbar(
                length=total,
                label="broadcasting",
                file=sys.stderr,
                show_eta=True,
                show_percent=True,
                item_show_func=lambda _: f"{self.delivered} delivered, {self.failed} failed",
            )

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def update(self, outcome: RecipientOutcome) -> None:
        status = str(outcome.status)
        if status in ("delivered", "already_delivered"):
            self.delivered += 1
        elif status in ("failed", "ambiguous", "not_retried"):
            self.failed += 1
        if self._bar is not None:
            self._bar.update(1, outcome)


def _all_delivered(report: BroadcastReport) -> bool:
    return not (report.failed or report.ambiguous or report.not_retried or report.not_sent)


def summary(report: BroadcastReport) -> str:
    """The final table a person reads: what happened to every recipient of this run."""
    from broadcastio.cli.output import render_table

    by_provider = ", ".join(f"{k} {v}" for k, v in sorted(report.delivered_by_provider.items()))
    by_code = ", ".join(f"{k} {v}" for k, v in sorted(report.failed_by_code.items()))
    rows = [
        ["delivered", str(report.delivered), by_provider],
        ["failed", str(report.failed), by_code],
        ["ambiguous", str(report.ambiguous), "may have been sent (TIMEOUT)"],
        ["duplicates", str(report.duplicates), "repeated in the input, sent once"],
        ["already delivered", str(report.already_delivered), "by an earlier run"],
        ["not retried", str(report.not_retried), "failed earlier; --retry-failed sends again"],
        ["not sent", str(report.not_sent), "stopped before sending"],
    ]
    header = (
        f"broadcast {report.broadcast_id} (run {report.run}): {report.total} recipients "
        f"in {report.elapsed_seconds:.2f} s ({report.throughput:.1f} msg/s)"
    )
    lines = [header, render_table(["outcome", "count", ""], rows, indent="  ")]
    if report.journal:
        lines.append(f"journal: {report.journal} (broadcastio journal show {report.broadcast_id})")
    return "\n".join(lines)

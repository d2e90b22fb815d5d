"""``broadcastio broadcast``: one message to every recipient of a file, journaled and resumable.

The order of events is the safety argument. Outputs that are the same file
as an input are refused before anything is opened for writing. Then every
row of the recipient file is checked (recipient present, template variables
available, a message can be built, and everything the journal and the
idempotency key will compute from it: ``prepare_message``) before the
configuration is even loaded, so a bad row 9,000 stops the run with nothing
sent. Then the broadcast runs with the journal on by default; its id goes to
stderr as soon as the run holds its claim on it (``Journal.begin_run``), before
any row is sent, so it survives whatever follows, and a run refused because
the id is live elsewhere never says it started. The first Ctrl-C stops
dispatching and lets the sends under way finish and be journaled, a second one
aborts at once; both end with the command that resumes the broadcast.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

import attrs
import click
from click.core import ParameterSource

from broadcastio.cli.journal_path import JournalLocation, JournalLocationType

from broadcastio.cli.exit_codes import ExitCode
from broadcastio.cli.options import json_option, provider_option, require_healthy_option
from broadcastio.cli.progress import BroadcastProgress
from broadcastio.cli.resume_hint import journal_show_command, resume_command
from broadcastio.cli.same_file import refuse_overwriting_inputs
from broadcastio.cli.send import read_text_file
from broadcastio.cli.state import CliState, pass_state

if TYPE_CHECKING:
    from broadcastio.broadcast import BroadcastOptions, BroadcastReport, Journal
    from broadcastio.broadcast.journal.receipts import ReceiptCounts
    from broadcastio.broadcast.journal import JournalError
    from broadcastio.broadcast.recipients import RecipientFile, Template
    from broadcastio.records.message import Attachment, Message

__all__ = ["broadcast"]


class _JournalFailed(click.ClickException):
    """The journal failed during a run: one line, exit 2 (the environment, not a bug)."""

    exit_code = ExitCode.USAGE


@click.command(short_help="Send one message to every recipient of a CSV or JSON Lines file.")
@click.option(
    "--recipients",
    "recipients_path",
    required=True,
    metavar="FILE",
    help="CSV with a 'recipient' column, or address columns (phone, email, telegram, and an "
    "optional id) making one contact per row; other columns are template variables. JSON "
    "Lines with the same keys, or - for stdin.",
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
    "--title",
    metavar="TEMPLATE",
    help="A one-line title template, e.g. 'Report for {name}': the email subject "
    "(WhatsApp does not show it).",
)
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
    type=JournalLocationType(),
    help="The journal: a file (SQLite), sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB. "
    "Default: $BROADCASTIO_JOURNAL, else the user state directory.",
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
@click.option(
    "--queue",
    "queue_url",
    metavar="URL",
    envvar="BROADCASTIO_QUEUE",
    help="Hand the recipients to `broadcastio worker` processes through this Redis "
    "(redis://[:PASSWORD@]HOST[:PORT]/DB) instead of sending from this process; see "
    "docs/scaling.md. Default: $BROADCASTIO_QUEUE, then queue in the configuration's "
    "[broadcast] table.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="With --queue: return once every recipient is queued; `journal show ID` reports.",
)
@click.option(
    "--wait-receipts",
    "wait_receipts",
    type=click.FloatRange(0, 86_400),
    metavar="SECONDS",
    help="After sending, sync delivery receipts into the journal for up to SECONDS, until "
    "every message that can have one reached the recipient's device (WhatsApp).",
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
    title: str | None,
    text_file: Path | None,
    attach: Path | None,
    concurrency: int,
    journal_path: JournalLocation | None,
    no_journal: bool,
    broadcast_id: str | None,
    resume_id: str | None,
    retry_failed: bool,
    results_path: Path | None,
    queue_url: str | None,
    detach: bool,
    wait_receipts: float | None,
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
    from broadcastio.broadcast import BroadcastOptions, new_broadcast_id
    from broadcastio.broadcast.recipients import Template, open_recipient_file
    from broadcastio.records.message import Attachment

    from broadcastio.cli.journal_path import configured_journal

    # [broadcast] in the configuration fills what the command line left unset.
    configuration = state.load_config()
    defaults = configuration.broadcast
    source = click.get_current_context().get_parameter_source("concurrency")
    if defaults.concurrency is not None and source is ParameterSource.DEFAULT:
        concurrency = defaults.concurrency
    if queue_url is None:
        queue_url = defaults.queue
    configured = None
    if not no_journal and journal_path is None:
        configured = configured_journal(configuration)
    if broadcast_id is not None and resume_id is not None:
        raise click.UsageError("give --id for a new broadcast or --resume for an existing one")
    if retry_failed and broadcast_id is None and resume_id is None:
        raise click.UsageError("--retry-failed needs the broadcast to retry: --resume ID")
    if no_journal and (journal_path is not None or resume_id is not None or retry_failed):
        raise click.UsageError("--no-journal cannot be combined with --journal or --resume")
    if no_journal and wait_receipts is not None:
        raise click.UsageError(
            "--wait-receipts records receipts in the journal: not with --no-journal"
        )
    if text is not None and text_file is not None:
        raise click.UsageError("give the template with --text or --text-file, not both")
    if queue_url is not None:
        from broadcastio.distributed import check_queue_url

        if no_journal:
            raise click.UsageError("--queue needs the journal: the workers record outcomes in it")
        check_queue_url(queue_url)
    elif detach:
        raise click.UsageError("--detach needs --queue: without workers nothing would send")
    for option, value in (("--id", broadcast_id), ("--resume", resume_id)):
        _check_utf8_argument(option, value)
    # Known before the check pass: the derived reference ids it computes depend on it.
    run_id = resume_id or broadcast_id or new_broadcast_id()
    # The run's options, checked before anything is read, loaded or created: a
    # bad --id must not leave a new journal file behind. The journal is added
    # once it is open.
    options = BroadcastOptions(
        concurrency=concurrency,
        broadcast_id=run_id,
        retry_failed=retry_failed,
        stop=threading.Event(),
    )
    journal_file = None if no_journal else _journal_file(journal_path, configured)
    _refuse_overwriting_inputs(recipients_path, text_file, attach, journal_file, results_path)
    template_text = text if text_file is None else read_text_file(text_file)
    if template_text is None and attach is None:
        raise click.UsageError("nothing to send: give --text, --text-file or --attach")
    template = None if template_text is None else Template(template_text)
    title_template = None if title is None else Template(title)
    attachment = None
    if attach is not None:
        attachment = Attachment(attach)
        attachment.ensure_readable()

    recipients = open_recipient_file(recipients_path, kind=file_format)
    address_kinds: dict[frozenset[str], int] = {}
    total = sum(
        1
        for _ in _messages(
            recipients, template, attachment, run_id, title_template, address_kinds
        )
    )

    overrides: dict[str, Any] = {}
    if require_healthy is not None:
        overrides["require_healthy"] = require_healthy
    orchestrator = state.build_orchestrator(providers, **overrides)
    _check_reachable(recipients, orchestrator, address_kinds)
    journal = None if journal_file is None else _open_journal(journal_file, resume_id)
    if journal is not None and queue_url is None:
        # Workers may still be sending this broadcast's queued rows (exit 2 if so). The
        # run checks again under its claim; this says it before the run announces itself.
        journal.refuse_while_queued(run_id)
    options = attrs.evolve(options, journal=journal)

    ctx = click.get_current_context()
    start_line = None
    if not state.quiet:
        start_line = (
            f"broadcastio: {'resuming' if resume_id else 'starting'} broadcast {run_id}: "
            f"{total} recipients, "
            + ("no journal" if journal is None else f"journal {journal.location}")
        )
    if queue_url is not None:
        assert journal is not None
        report = _submit(
            state,
            _messages(recipients, template, attachment, run_id, title_template),
            journal=journal,
            run_id=run_id,
            queue_url=queue_url,
            retry_failed=retry_failed,
            detach=detach,
            total=total,
            results_path=results_path,
            start_line=start_line,
            stop=options.stop,
            show=journal_show_command(
                ctx, state, run_id, None if journal_path is None else str(journal_path)
            ),
        )
        if report is None:
            return
    else:
        report = _run_locally(
            state,
            orchestrator,
            _messages(recipients, template, attachment, run_id, title_template),
            options,
            total=total,
            results_path=results_path,
            start_line=start_line,
            run_id=run_id,
        )
    receipts = None
    if wait_receipts is not None and journal_file is not None and not report.interrupted:
        receipts = _wait_for_receipts(state, orchestrator, journal_file, run_id, wait_receipts)
    _finish(
        state,
        report,
        total=total,
        as_json=as_json,
        run_id=run_id,
        journal=journal,
        journal_path=journal_path,
        receipts=receipts,
    )


def _run_locally(
    state: CliState,
    orchestrator: Any,
    messages: Iterator[Message],
    options: BroadcastOptions,
    *,
    total: int,
    results_path: Path | None,
    start_line: str | None,
    run_id: str,
) -> BroadcastReport:
    """The single-process run, with the resume hint on Ctrl-C and journal failures."""
    from broadcastio.broadcast.journal import JournalError

    ctx = click.get_current_context()
    journal = options.journal
    try:
        return _run(
            state,
            orchestrator,
            messages,
            options,
            total=total,
            results_path=results_path,
            start_line=start_line,
        )
    except KeyboardInterrupt:
        # The second Ctrl-C: sends cut short stay in flight in the journal, and a
        # resume sends them again under their reference ids (see docs/broadcasts.md).
        if journal is not None:
            click.echo(
                f"broadcastio: aborted; resume with: {resume_command(ctx, state, run_id)}", err=True
            )
        raise
    except JournalError as error:
        raise _journal_failed(error, resume_command(ctx, state, run_id)) from error


def _submit(
    state: CliState,
    messages: Iterator[Message],
    *,
    journal: Journal,
    run_id: str,
    queue_url: str,
    retry_failed: bool,
    detach: bool,
    total: int,
    results_path: Path | None,
    start_line: str | None,
    stop: threading.Event | None,
    show: str,
) -> BroadcastReport | None:
    """The ``--queue`` run (``broadcast_queue``); ``None`` when detached (a line is printed)."""
    from broadcastio.broadcast.journal import JournalError
    from broadcastio.cli.broadcast_queue import detached_line, submit

    assert stop is not None, "the command's options always carry a stop event"
    ctx = click.get_current_context()
    try:
        submitted = submit(
            state,
            messages,
            journal=journal,
            broadcast_id=run_id,
            queue_url=queue_url,
            retry_failed=retry_failed,
            detach=detach,
            total=total,
            results_path=results_path,
            start_line=start_line,
            stop=stop,
        )
    except JournalError as error:
        raise _journal_failed(error, resume_command(ctx, state, run_id)) from error
    if submitted.report is None:
        if not state.quiet:
            click.echo(detached_line(submitted, show))
        return None
    if submitted.interrupted:
        # Not "resume with": the workers are still delivering what was queued, and
        # a resume now would queue those recipients a second time.
        click.echo(
            f"broadcastio: stopped after queueing {submitted.enqueued} recipients; the workers "
            f"deliver what was queued; follow it with: {show}",
            err=True,
        )
        raise click.exceptions.Exit(ExitCode.INTERRUPTED)
    return submitted.report


def _finish(
    state: CliState,
    report: BroadcastReport,
    *,
    total: int,
    as_json: bool,
    run_id: str,
    journal: Journal | None,
    journal_path: JournalLocation | None,
    receipts: ReceiptCounts | None = None,
) -> None:
    """Print the report (table or JSON) and end with the run's exit code.

    ``receipts`` (after ``--wait-receipts``) goes into the JSON as ``receipts``.
    """
    ctx = click.get_current_context()
    if as_json:
        data = report.to_dict()
        data["not_read"] = total - report.total
        if receipts is not None:
            data["receipts"] = receipts.to_dict()
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif not (state.quiet and _all_delivered(report)):
        typed_journal = None if journal_path is None else str(journal_path)
        show = journal_show_command(ctx, state, run_id, typed_journal)
        click.echo(summary(report, input_rows=total, show_command=show))
    if report.interrupted:
        click.echo(
            "broadcastio: interrupted; sends under way finished and were journaled; "
            f"resume with: {resume_command(ctx, state, run_id)}"
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
    options: BroadcastOptions,
    *,
    total: int,
    results_path: Path | None,
    start_line: str | None,
) -> BroadcastReport:
    """Run the broadcast with progress, Ctrl-C handling and ``--results``; its report.

    ``options`` carries an open journal (closed here when the run ends) or
    none, and the stop event the first Ctrl-C sets. ``start_line`` (``None``:
    say nothing) goes to stderr when the run has started: with a journal, once
    ``begin_run`` holds the claim on the id (a run refused there never said it
    started); without one, at once.
    """
    from broadcastio.broadcast import Journal, iter_broadcast
    from broadcastio.cli.announcing_journal import AnnouncingJournal

    journal, stop = options.journal, options.stop
    assert stop is not None, "the command's options always carry a stop event"
    show_progress = not state.quiet and sys.stderr.isatty()
    progress = BroadcastProgress(total, sys.stderr, enabled=show_progress)
    # While a rate limit is waited out, the line says "paused until HH:MM".
    run = iter_broadcast(orchestrator, messages, attrs.evolve(options, on_pause=progress.pause))
    if start_line is not None:
        line = start_line + "\n"
        if isinstance(journal, AnnouncingJournal):
            journal.on_begin = lambda _run: progress.write_above(line)
        else:
            progress.write_above(line)
    with contextlib.ExitStack() as stack:
        if isinstance(journal, Journal):
            stack.callback(journal.close)  # also when the run ends in an exception
        stack.enter_context(_first_interrupt_stops(stop, progress.write_above))
        results = stack.enter_context(_open_results(results_path))
        stack.enter_context(progress)
        with run:
            for outcome in run:
                progress.update(outcome)
                if results is not None:
                    results.write(_results_line(outcome.to_dict()))
                    results.flush()
    assert run.report is not None
    return run.report


def _wait_for_receipts(
    state: CliState, orchestrator: Any, path: JournalLocation, broadcast_id: str, seconds: float
) -> ReceiptCounts:
    """Sync receipts after the run (``wait_for_receipts``); the counts, also said on stderr.

    The run's own providers are asked, so receipts go to the instances that
    delivered. A provider that cannot be asked is a warning: the broadcast
    itself is done, and ``journal sync`` can ask later.
    """
    from broadcastio.broadcast import Journal
    from broadcastio.broadcast.journal.receipts import receipt_counts
    from broadcastio.broadcast.receipts import wait_for_receipts
    from broadcastio.cli.journal_sync import receipts_line

    with Journal(path, create=False) as journal:
        result = wait_for_receipts(orchestrator, journal, broadcast_id, seconds)
        counts = receipt_counts(journal, broadcast_id)
    for name, error in sorted(result.failures.items()):
        click.echo(f"broadcastio: warning: receipts of {name}: {error.message}", err=True)
    if not state.quiet:
        click.echo(f"broadcastio: {receipts_line(counts)}", err=True)
    return counts


def _results_line(data: dict[str, Any]) -> str:
    """One ``--results`` line: readable UTF-8 JSON, escaped where UTF-8 cannot go.

    Rows are checked before sending, but a provider's answer (an error text, a
    message id) is not ours to check, and one holding a lone surrogate must not
    end the run at the results file. JSON's ``\\ud800`` escape keeps it exact.
    """
    line = json.dumps(data, ensure_ascii=False)
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            line = json.dumps(data)
    return line + "\n"


def _messages(
    recipients: RecipientFile,
    template: Template | None,
    attachment: Attachment | None,
    broadcast_id: str,
    title: Template | None = None,
    address_kinds: dict[frozenset[str], int] | None = None,
) -> Iterator[Message]:
    """One ``Message`` per row, as the run will send it, built lazily; errors name the line.

    Each message goes through ``prepare_message``, the function the run itself
    prepares rows with, so the check pass finds every row the run would fail on.
    With ``address_kinds``, it also notes each combination of address kinds
    the contacts have, with the first line holding it (a handful of entries
    whatever the file's size), for ``_check_reachable``.
    """
    from broadcastio.broadcast.admission import UNPREPARED_METADATA, prepare_message
    from broadcastio.records.message import Message
    from broadcastio.errors import ValidationError

    for row in recipients.rows():
        recipients.check_row(row, template)
        if title is not None:
            recipients.check_row(row, title)
        content = None if template is None else template.render(row.variables)
        try:
            message = prepare_message(
                broadcast_id,
                Message(
                    row.recipient,
                    content,
                    metadata=UNPREPARED_METADATA,  # the derived reference id replaces it
                    attachment=attachment,
                    title=None if title is None else title.render(row.variables),
                ),
            )
        except ValidationError as exc:
            raise recipients.error(row.line, exc.message) from None
        if address_kinds is not None and not isinstance(row.recipient, str):
            address_kinds.setdefault(frozenset(row.recipient.addresses), row.line)
        yield message


def _check_reachable(
    recipients: RecipientFile, orchestrator: Any, address_kinds: dict[frozenset[str], int]
) -> None:
    """Refuse, before any send, a file with a contact no provider of the chain can reach.

    Without this, such a row would fail at its turn (and again on every
    resume); the check pass cannot do it, since it runs before the chain is
    built. A provider without an ``address_kind`` takes any contact.
    """
    kinds_of_chain = [getattr(p, "address_kind", None) for p in orchestrator.providers]
    if None in kinds_of_chain:
        return
    needed = {str(kind) for kind in kinds_of_chain}
    for kinds, line in sorted(address_kinds.items(), key=lambda item: item[1]):
        if not kinds & needed:
            names = ", ".join(provider.name for provider in orchestrator.providers)
            raise recipients.error(
                line,
                f"the contact has only {', '.join(sorted(kinds))} address(es), and no provider "
                f"of the chain ({names}) takes them: it needs {' or '.join(sorted(needed))}",
            )


def _check_utf8_argument(option: str, value: str | None) -> None:
    """An argument holding bytes that are not UTF-8 (they arrive as lone surrogates) is refused.

    The broadcast id is hashed into every reference id and stored in the
    journal, both as UTF-8: such an id would fail at the first row.
    """
    if value is None:
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise click.BadParameter(f"{value!r} is not UTF-8 text", param_hint=f"'{option}'") from None


def _journal_file(
    journal_path: JournalLocation | None, configured: JournalLocation | None
) -> JournalLocation:
    from broadcastio.cli.journal_path import default_journal_path

    if journal_path is not None:
        return journal_path
    return default_journal_path(configured=configured)


def _refuse_overwriting_inputs(
    recipients_path: str,
    text_file: Path | None,
    attach: Path | None,
    journal: JournalLocation | None,
    results_path: Path | None,
) -> None:
    """Exit 2 if the journal or ``--results`` would write over a file this command reads."""
    inputs = {
        "--recipients": None if recipients_path == "-" else Path(recipients_path),
        "--text-file": text_file,
        "--attach": attach,
    }
    journal_file = journal if isinstance(journal, Path) else None  # a server's is no file
    refuse_overwriting_inputs("--journal", journal_file, inputs)
    if journal_file is not None:
        inputs["--journal"] = journal_file
        for suffix in ("-wal", "-shm", "-journal"):  # SQLite's files next to the journal
            inputs[f"the journal's {suffix} file"] = journal_file.with_name(
                journal_file.name + suffix
            )
    refuse_overwriting_inputs("--results", results_path, inputs)


def _open_journal(path: JournalLocation, resume_id: str | None) -> Journal:
    """The command's journal (an ``AnnouncingJournal``); its errors are a run's.

    Marked ``JournalOperation.RUN``, so that their advice is the one for a run
    (do not resume from a damaged journal), whichever layer raised them.
    """
    from broadcastio.broadcast import JournalError
    from broadcastio.broadcast.journal import JournalOperation
    from broadcastio.cli.announcing_journal import AnnouncingJournal
    from broadcastio.cli.journal_path import make_journal_directory

    try:
        if resume_id is not None:
            journal = AnnouncingJournal(path, create=False)
            journal.info(resume_id)  # an unknown id is a ValidationError (exit 2) naming it
            return journal
        make_journal_directory(path)
        return AnnouncingJournal(path)
    except JournalError as error:
        raise error.during(JournalOperation.RUN) from error


def _journal_failed(error: JournalError, resume: str) -> click.ClickException:
    """The one line for a journal that failed during the run, with the resume command.

    Only problems that a person can fix and then resume from get the command:
    a broadcast claimed by another run, a damaged or deleted journal do not.
    """
    from broadcastio.broadcast.journal import JournalOperation, JournalProblem

    error = error.during(JournalOperation.RUN)
    message = error.message
    if error.problem in (
        JournalProblem.FULL,
        JournalProblem.IO_ERROR,
        JournalProblem.READ_ONLY,
        JournalProblem.BUSY,
    ):
        message += f"; the run stopped after the sends under way; resume with: {resume}"
    return _JournalFailed(message)


@contextlib.contextmanager
def _first_interrupt_stops(stop: threading.Event, say: Callable[[str], object]) -> Iterator[None]:
    """First Ctrl-C: stop dispatching and finish cleanly. Second: the usual KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread (e.g. under a test runner)
        return
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        say("broadcastio: stopping: waiting for the sends under way (Ctrl-C again to abort)\n")

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


def _all_delivered(report: BroadcastReport) -> bool:
    return not (report.failed or report.ambiguous or report.not_retried or report.not_sent)


def summary(
    report: BroadcastReport, input_rows: int | None = None, show_command: str | None = None
) -> str:
    """The final table a person reads: what happened to every recipient of this run.

    ``input_rows`` is how many rows the input has; a run stopped early did not
    read them all, and those never read get a row of their own. ``show_command``
    is the shell command that shows the broadcast in its journal
    (``journal_show_command``): it ends the journal's line, where it can be
    copied whole.
    """
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
    if input_rows is not None and input_rows > report.total:
        rows.append(["not read", str(input_rows - report.total), "stopped before reading them"])
    read = "" if input_rows is None or input_rows == report.total else f" of {input_rows}"
    header = (
        f"broadcast {report.broadcast_id} (run {report.run}): {report.total}{read} recipients "
        f"in {report.elapsed_seconds:.2f} s ({report.throughput:.1f} msg/s)"
    )
    lines = [header, render_table(["outcome", "count", ""], rows, indent="  ")]
    if report.journal:
        lines.append(
            f"journal: {report.journal}"
            + ("" if show_command is None else f"; every recipient: {show_command}")
        )
    return "\n".join(lines)

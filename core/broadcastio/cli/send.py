"""``broadcastio send``: one message through the configured chain of providers.

The text comes from ``--text``, ``--text-file`` (``-`` is stdin), or, when
neither is given, from stdin if it is not a terminal: ``echo hi | broadcastio
send --to ...`` works, and an interactive shell with no text is a usage error
rather than a silent wait for input (unless ``--attach`` is sent on its own).
Text read from a file or stdin loses its trailing newlines, as ``$(...)`` in a
shell would: ``echo`` adds one nobody means to send.

The send always records a trace so the summary can say how many attempts it
took and how long; ``--json`` includes the trace only with ``--trace``.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import click

from broadcastio.cli.exit_codes import ExitCode
from broadcastio.cli.options import json_option, provider_option, require_healthy_option
from broadcastio.cli.output import (
    echo_json,
    format_details,
    format_duration,
    plural,
    render_table,
)
from broadcastio.cli.state import DEFAULT_SEND_TIMEOUT, CliState, pass_state
from broadcastio.engine.deadline import LONGEST_TIMEOUT
from broadcastio.cli.text_input import MAX_TEXT_BYTES, TextTooLarge, read_bounded
from broadcastio.errors import ValidationError
from broadcastio.records.contact import Contact, shown_address
from broadcastio.records.message import Attachment, Message
from broadcastio.records.result import DeliveryResult

__all__ = ["read_text", "read_text_file", "recipient_from_options", "send", "summary"]

logger = logging.getLogger("broadcastio")


def _stdin_is_terminal() -> bool:
    # No stdin at all (a closed descriptor) is treated like a terminal: nothing to read.
    return sys.stdin is None or sys.stdin.isatty()


def _read_stdin() -> str:
    """All of stdin as UTF-8 text, like ``--text-file`` (whatever the locale says)."""
    stdin = sys.stdin
    if stdin is None:
        raise click.UsageError("no message text: there is no stdin to read it from")
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:  # pragma: no cover - a text-only stream someone put in sys.stdin
        return str(stdin.read(MAX_TEXT_BYTES))
    try:
        text: str = read_bounded(buffer).decode("utf-8")
    except TextTooLarge as error:
        raise click.UsageError(
            f"no message text: stdin holds {error}, the most a message text may be"
        ) from None
    except UnicodeDecodeError:
        raise click.UsageError("no message text: stdin is not UTF-8 text") from None
    return text.replace("\r\n", "\n")


def read_text_file(path: Path) -> str:
    """``--text-file``: the file as UTF-8 text without trailing newlines; errors name the file.

    At most ``MAX_TEXT_BYTES`` are read (``/dev/zero`` or a huge log file
    given by mistake must not be read to the end); line endings become ``\\n``.
    """
    try:
        with open(path, "rb") as handle:
            data = read_bounded(handle)
        text = data.decode("utf-8")
    except TextTooLarge as error:
        raise click.BadParameter(
            f"{str(path)!r} holds {error}, the most a message text may be",
            param_hint="'--text-file'",
        ) from None
    except UnicodeDecodeError:
        raise click.BadParameter(
            f"{str(path)!r} is not UTF-8 text", param_hint="'--text-file'"
        ) from None
    except OSError as error:
        raise click.BadParameter(
            f"cannot read {str(path)!r}: {error.strerror or error}", param_hint="'--text-file'"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def read_text(text: str | None, text_file: Path | None, attach: Path | None) -> str | None:
    """The message text from ``--text``, ``--text-file`` or stdin; ``None`` for none."""
    if text is not None and text_file is not None:
        raise click.UsageError("--text and --text-file cannot be used together")
    if text is not None:
        return text
    if text_file is not None and str(text_file) != "-":
        return read_text_file(text_file)
    if text_file is None and _stdin_is_terminal():
        if attach is not None:
            return None
        raise click.UsageError(
            "no message text: give --text or --text-file, or pipe the text on stdin"
        )
    content = _read_stdin().rstrip("\r\n")
    if not content.strip() and attach is None:
        raise click.UsageError("no message text: stdin was empty")
    return content


def summary(result: DeliveryResult, test_doubles: Collection[str] = ()) -> str:
    """One line for a person: who delivered (or why not), attempts and elapsed time.

    A result from a provider in ``test_doubles`` says that nothing was sent: a
    person reading "delivered" must be able to trust it.
    """
    trace = result.trace
    attempts = plural(len(trace.attempts), "attempt") if trace is not None else "? attempts"
    elapsed = format_duration(trace.duration_ms) if trace is not None else "?"
    skipped = [health.provider for health in trace.skipped] if trace is not None else []
    notes = f"; skipped {', '.join(skipped)} (not ready)" if skipped else ""
    if result.success:
        fallback = [name for name in result.providers_tried if name != result.provider]
        after = f" after {', '.join(fallback)} failed" if fallback else ""
        via = f"via {result.provider}{after}"
        if result.provider in test_doubles:
            via += f" ({result.provider} is a test double: nothing was sent)"
        return (
            f"delivered {via}: message id {result.message_id}; "
            f"{attempts} in {elapsed}{notes}"
        )
    error = result.error
    reason = f"{error.code}: {' '.join(error.message.split())}" if error is not None else "unknown"
    tried = ", ".join(result.providers_tried) or "no provider"
    return f"not delivered: {reason}; tried {tried}; {attempts} in {elapsed}{notes}"


def _trace_lines(result: DeliveryResult) -> str:
    """The attempts (and skipped providers) under the summary, for ``--trace`` without JSON."""
    trace = result.trace
    if trace is None:  # pragma: no cover - send() always traces
        return ""
    rows = []
    for attempt in trace.attempts:
        if attempt.success:
            outcome, what = "delivered", attempt.message_id or "-"
        else:
            error = attempt.error
            outcome = "failed"
            what = f"{error.code}: {error.message}" if error is not None else "-"
        rows.append(
            [
                f"{attempt.provider} #{attempt.attempt}",
                outcome,
                format_duration(attempt.duration_ms),
                " ".join(what.split()),
            ]
        )
    for health in trace.skipped:
        rows.append([health.provider, "skipped", "-", format_details(health.details)])
    table = render_table(["ATTEMPT", "OUTCOME", "TOOK", "DETAILS"], rows, indent="  ")
    return f"  trace {trace.trace_id}\n{table}"


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    # FloatRange lets "nan" through: every comparison with it is false.
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", ctx=ctx, param=param)
    return value


# ``kind=address``: a lowercase name, then ``=``. A bare address never starts so
# (a phone number starts with ``+`` or a digit, a URL has ``:`` before any ``=``).
_KIND_PREFIX = re.compile(r"([a-z][a-z0-9_-]{0,31})=(.*)\Z", re.DOTALL)


def recipient_from_options(values: Sequence[str]) -> str | Contact:
    """``--to``: one bare address, or ``kind=address`` pairs (and ``id=...``) making a contact.

    Errors are ``click.BadParameter`` on ``--to``, so they are one usage line
    (exit 2) naming the option and what was wrong with it.
    """

    def bad(problem: str) -> click.BadParameter:
        return click.BadParameter(problem, param_hint="'--to'")

    pairs: dict[str, str] = {}
    bare: list[str] = []
    for value in values:
        matched = _KIND_PREFIX.match(value)
        if matched is None:
            bare.append(value)
            continue
        kind, address = matched.groups()
        if kind in pairs:
            raise bad(f"{kind}= given more than once; a contact has one address per kind")
        pairs[kind] = address
    if bare and pairs:
        raise bad(
            f"{bare[0]!r} is a bare address, the others are kind=address: use one form "
            f"(for example --to phone={bare[0]})"
        )
    if len(bare) > 1:
        raise bad(
            "a bare address can be given once; to reach one person on several channels, "
            "name each address's kind: --to phone=+15551234567 --to email=ops@example.com"
        )
    if bare:
        return bare[0]
    identity = pairs.pop("id", None)
    try:
        return Contact(pairs, identity)
    except ValidationError as error:
        raise bad(error.message) from None


@click.command(short_help="Send one message through the provider chain.")
@click.option(
    "--to",
    "recipient",
    required=True,
    multiple=True,
    metavar="RECIPIENT",
    help="Who gets it: one address every provider uses, or KIND=ADDRESS (repeatable: "
    "--to phone=+15551234567 --to email=ops@example.com, plus an optional --to id=ID), "
    "so each provider gets the address of its kind.",
)
@click.option("--text", metavar="TEXT", help="The message text.")
@click.option(
    "--title",
    metavar="TEXT",
    help="A one-line title: the email subject (WhatsApp does not show it).",
)
@click.option(
    "--text-file",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    metavar="FILE",
    help="Read the text from FILE (UTF-8; - for stdin).",
)
@click.option(
    "--attach",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="Attach this file (the text, if any, is its caption).",
)
@click.option(
    "--reference-id",
    metavar="ID",
    help="The message's reference id. Providers derive idempotency keys from it: "
    "re-running a send with the same id (and recipient) is not delivered twice "
    "by providers that deduplicate, such as WhatsApp.",
)
@provider_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=LONGEST_TIMEOUT),
    callback=_finite,
    metavar="SECONDS",
    help="Give up after SECONDS in all, retries and waits included; an attempt still "
    "running then counts as TIMEOUT. Default: orchestrator.timeout, else "
    f"{DEFAULT_SEND_TIMEOUT:g}.",
)
@click.option("--trace", is_flag=True, help="Show every attempt (and include the trace in --json).")
@json_option
@require_healthy_option
@pass_state
def send(
    state: CliState,
    recipient: tuple[str, ...],
    text: str | None,
    title: str | None,
    text_file: Path | None,
    attach: Path | None,
    reference_id: str | None,
    providers: tuple[str, ...],
    timeout: float | None,
    trace: bool,
    as_json: bool,
    require_healthy: bool | None,
) -> None:
    """Send one message. Exit 0 if delivered, 1 if not.

    \b
    Examples:
      broadcastio send --to +15551234567 --text "Backup finished"
      broadcastio send --to phone=+15551234567 --to email=ops@example.com \\
          --title "Backup" --text "Backup finished"
      df -h | broadcastio send --to +15551234567 --provider whatsapp
      broadcastio send --to +15551234567 --attach report.pdf --json | jq .message_id
    """
    repeated = sorted({name for name in providers if providers.count(name) > 1})
    if repeated:
        raise click.BadParameter(
            f"{', '.join(map(repr, repeated))} given more than once; each provider is "
            "tried once, with its own retries",
            param_hint="'--provider'",
        )
    to = recipient_from_options(recipient)
    content = read_text(text, text_file, attach)
    message = Message(
        to,
        content,
        title=title,
        metadata=None if reference_id is None else {"reference_id": reference_id},
        attachment=None if attach is None else Attachment(attach),
    )
    # Checked before loading any plugin: a typo in a path is the quickest error to report.
    if message.attachment is not None:
        message.attachment.ensure_readable()

    overrides: dict[str, Any] = {}
    if require_healthy is not None:
        overrides["require_healthy"] = require_healthy
    if timeout is not None:
        overrides["timeout"] = timeout
    orchestrator = state.build_orchestrator(providers, **overrides)
    test_doubles = {
        provider.name
        for provider in orchestrator.providers
        if getattr(provider, "test_double", False)
    }
    shown = message.recipient
    logger.info(
        "sending to %s through %s",
        # A contact's str() hides a URL's secret path; a bare URL is hidden here.
        shown_address(shown) if isinstance(shown, str) else shown,
        ", ".join(provider.name for provider in orchestrator.providers),
    )
    result = orchestrator.send(message, trace=True)

    if as_json:
        data = result.to_dict()
        if not trace:
            data["trace"] = None
        data["test_double"] = result.provider in test_doubles
        echo_json(data)
    elif not (state.quiet and result.success):
        click.echo(summary(result, test_doubles))
        if trace:
            click.echo(_trace_lines(result))
    if not result.success:
        raise click.exceptions.Exit(ExitCode.FAILED)

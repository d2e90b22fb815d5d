"""The ``broadcastio`` command: the group, its global options, logging, and exit codes.

Commands are imported only when they run (or when ``--help`` lists them), so
``broadcastio --version`` loads no command and no plugin. Adding a command is a
module exposing a ``click.Command`` plus one line in ``COMMANDS``.

Every error becomes an exit code in one place, ``BroadcastioGroup.main``: a
known problem is one line on stderr (``broadcastio: error: ...``), never a
traceback (``-vv`` adds one). Results go to stdout, logs and errors to
stderr.

The global options (``--config``, ``-v``, ``-q``) are accepted before the
command and after it (``broadcastio send ... -q``): people add ``-q`` at the end
of a cron line, and an error saying "No such option" there helps nobody. The
group adds them to every command it hands out; they only write into
``CliState``, and logging is configured once, after the command's own options
are parsed, with the level they add up to.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from broadcastio._version import __version__
from broadcastio.cli.exit_codes import ExitCode, exit_code_for
from broadcastio.cli.state import CliState
from broadcastio.errors import BroadcastioError

__all__ = ["COMMANDS", "BroadcastioGroup", "cli", "configure_logging", "global_options", "main"]

PROG_NAME = "broadcastio"

# Command name -> "module:attribute" of its click.Command, in the order --help lists them.
COMMANDS: dict[str, str] = {
    "send": "broadcastio.cli.send:send",
    "health": "broadcastio.cli.health:health",
    "plugins": "broadcastio.cli.plugins:plugins",
    "config": "broadcastio.cli.config:config",
    "broadcast": "broadcastio.cli.broadcast:broadcast",
    "journal": "broadcastio.cli.journal:journal",
    "worker": "broadcastio.cli.worker:worker",
}


class _LevelFormatter(logging.Formatter):
    """``broadcastio: warning: ...``: log lines read like the error line, lower-case level."""

    def format(self, record: logging.LogRecord) -> str:
        record.levelname_lower = record.levelname.lower()
        return super().format(record)


def configure_logging(verbosity: int, quiet: bool) -> Callable[[], None]:
    """Send log records to stderr at the chosen level; return what undoes it.

    The handler goes on the root logger so plugins' own loggers show too.
    Default: warnings (a broken plugin, a fallback to unhealthy providers);
    ``-v`` info, ``-vv`` debug with timestamps; ``-q`` errors only. Undoing
    matters when the CLI runs in-process (tests, ``CliRunner``): the next run
    must not inherit this run's handler or stream.
    """
    if quiet:
        level = logging.ERROR
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    pattern = "%(name)s: %(levelname_lower)s: %(message)s"
    if level <= logging.DEBUG:
        pattern = "%(asctime)s " + pattern
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelFormatter(pattern))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(level)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)

    return undo


def _state(ctx: click.Context) -> CliState:
    return ctx.ensure_object(CliState)


def _remember_config(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    # Given before and after the command, the later one (the command's) wins,
    # as a later option overrides an earlier one in most command lines.
    if value is not None:
        _state(ctx).config_path = value


def _remember_verbosity(ctx: click.Context, _: click.Parameter, value: int) -> None:
    _state(ctx).verbosity += value  # -v before and -v after the command: -vv


def _remember_quiet(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        _state(ctx).quiet = True


def _start_logging(ctx: click.Context, _: click.Parameter, __: Any) -> None:
    """Check the combined global options and configure logging, once per run."""
    if ctx.resilient_parsing or ctx.meta.get(_LOGGING_STARTED):
        return  # shell completion logs nothing; a nested group's command starts it once
    state = _state(ctx)
    if state.verbosity and state.quiet:
        raise click.UsageError("--verbose and --quiet cannot be used together", ctx=ctx)
    ctx.meta[_LOGGING_STARTED] = True
    ctx.call_on_close(configure_logging(state.verbosity, state.quiet))


_LOGGING_STARTED = "broadcastio.logging_started"


class _AfterEveryOption(click.Option):
    """A parameter no one types, whose callback runs after the command's options are parsed.

    click processes the options given on the command line first, then the
    others in declaration order; appended last and never on the command line
    (it is not added to the parser), this one comes after all of them, when
    every ``-v``/``-q`` wherever placed has been counted.
    """

    def __init__(self) -> None:
        super().__init__(
            ["--broadcastio-start-logging"],
            hidden=True,
            expose_value=False,
            is_flag=True,
            callback=_start_logging,
        )

    def add_to_parser(self, parser: Any, ctx: click.Context) -> None:
        """Not an option of the command line: nothing to add."""


def _global_parameters() -> list[click.Parameter]:
    """``--config``, ``-v``, ``-q``, as new objects: a click parameter belongs to one command."""
    return [
        click.Option(
            ["--config", "config_path"],
            type=click.Path(dir_okay=False, path_type=Path),
            metavar="PATH",
            expose_value=False,
            callback=_remember_config,
            help="Configuration file. Default: $BROADCASTIO_CONFIG, ./broadcastio.toml, "
            "then the user config directory.",
        ),
        click.Option(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_remember_verbosity,
            help="Log more to stderr: -v info, -vv debug.",
        ),
        click.Option(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_remember_quiet,
            help="Log only errors, and print nothing when send or health succeeds.",
        ),
    ]


def global_options(command: click.Command) -> click.Command:
    """Give ``command`` (and, for a group, each of its commands) the global options.

    Idempotent, so a command fetched twice is not given them twice. Only a
    command that runs (not a group) gets the parameter that starts logging.
    """
    names = {param.name for param in command.params}
    if "config_path" not in names:
        command.params.extend(_global_parameters())
        if not isinstance(command, click.Group):
            command.params.append(_AfterEveryOption())
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            global_options(subcommand)
    return command


class BroadcastioGroup(click.Group):
    """A click group with lazily imported commands and one exception-to-exit-code policy."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [name for name in super().list_commands(ctx) if name not in COMMANDS]
        return [*COMMANDS, *extra]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
            raise TypeError(f"{target} is not a click command")
        return global_options(command)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line and turn whatever happened into an exit code.

        ``standalone_mode=True`` (the console script, ``CliRunner``) exits the
        process with it; ``False`` returns it.
        """
        state = extra.setdefault("obj", CliState())
        try:
            result = super().main(
                args,
                prog_name or PROG_NAME,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = int(result) if isinstance(result, int) else ExitCode.OK
        except SystemExit:
            raise
        except BaseException as error:  # noqa: BLE001 - this is the one place errors end
            code = _report(error, state.verbosity if isinstance(state, CliState) else 0)
        if standalone_mode:
            sys.exit(code)
        return code


def _report(error: BaseException, verbosity: int) -> int:
    """Write ``error`` to stderr as the user needs it and return its exit code."""
    code = exit_code_for(error)
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        error.show()  # plain ``broadcastio``: the help, not an error line
        return code
    if code is ExitCode.INTERRUPTED:
        click.echo(f"{PROG_NAME}: interrupted", err=True)
        return code
    if isinstance(error, click.UsageError):
        # Some parser errors carry no context; the top-level help is the best pointer then.
        command_path = error.ctx.command_path if error.ctx is not None else PROG_NAME
        message = f"{error.format_message()} (see '{command_path} --help')"
    elif isinstance(error, click.ClickException):
        message = error.format_message()
    elif isinstance(error, BroadcastioError):
        message = error.message
    else:
        message = f"internal error: {type(error).__name__}: {error}"
    click.echo(f"{PROG_NAME}: error: {' '.join(message.split())}", err=True)
    if verbosity >= 2 and not isinstance(error, click.ClickException):
        click.echo("".join(traceback.format_exception(error)).rstrip(), err=True)
    elif code is ExitCode.INTERNAL:
        # A bug, not bad input: still one line by default, the traceback on request.
        click.echo(
            f"{PROG_NAME}: this is a bug; run again with -vv for the traceback and report it",
            err=True,
        )
    return code


@click.group(
    name=PROG_NAME,
    cls=BroadcastioGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 ok, 1 not delivered / none healthy, 2 usage or configuration "
    "error, 3 internal error, 130 interrupted. Results go to stdout, logs to stderr.",
)
@click.version_option(__version__, "--version", prog_name=PROG_NAME, message="%(prog)s %(version)s")
def cli() -> None:
    """Deliver messages through the configured chain of providers.

    The options below (--config, -v, -q) may also follow the command:
    `broadcastio send ... -q` is `broadcastio -q send ...`. -v given in both
    places adds up; --config given twice: the one after the command wins.
    """


# Before the command, the same options as after it (see ``global_options``).
cli.params[:0] = _global_parameters()


def main(args: Sequence[str] | None = None) -> int:
    """The console script: run ``broadcastio`` and return its exit code."""
    try:
        code = cli.main(args, prog_name=PROG_NAME, standalone_mode=False)
    except KeyboardInterrupt:
        # A Ctrl-C outside any command (during start-up or shell completion).
        click.echo(f"{PROG_NAME}: interrupted", err=True)
        return ExitCode.INTERRUPTED
    return int(code)

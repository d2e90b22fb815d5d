"""The commands a broadcast's output suggests, ready to copy and paste.

"Resume with the same arguments and --resume ID" asks a person, at the worst
moment, to rebuild a command line they may no longer have. The hint is instead
the command itself: the global options (``--config``, ``-v``, ``-q``, wherever
they were typed), then every option of the command that was given on the
command line (values exactly as typed, so relative paths stay relative), with
``--id ID`` replaced by ``--resume ID``, each word quoted for a POSIX shell
with ``shlex.quote``. Options that took their value from the environment or a
default are left out: the same environment gives the same value again.

The summary's closing hint (``journal_show_command``) follows the same rules:
``broadcastio journal show`` with ``--config`` and ``--journal`` when they were
given, so it reads the journal the broadcast wrote, not the default one.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator

import click

from broadcastio.broadcast.journal.location import journal_display
from click.core import ParameterSource

from broadcastio.cli.state import CliState

__all__ = ["journal_show_command", "resume_command"]

# The broadcast command's parameters that name the broadcast: replaced by --resume.
_ID_PARAMETERS = ("broadcast_id", "resume_id")


def _words(ctx: click.Context, skip: tuple[str, ...] = ()) -> Iterator[str]:
    """The options of ``ctx``'s command that came from the command line, as argv words.

    Only options whose value reaches the command (``expose_value``): the global
    ones only write into ``CliState`` and are rendered from there.
    """
    for parameter in ctx.command.params:
        name = parameter.name
        if not isinstance(parameter, click.Option) or not parameter.expose_value:
            continue
        if name is None or name in skip:
            continue
        if ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params.get(name)
        long_names = [opt for opt in parameter.opts if opt.startswith("--")]
        spelling = long_names[0] if long_names else parameter.opts[0]
        if parameter.count:
            yield from [spelling] * int(value or 0)
        elif parameter.is_flag:
            if parameter.secondary_opts and not value:
                yield parameter.secondary_opts[0]
            elif value:
                yield spelling
        elif parameter.multiple:
            for item in value or ():
                yield from (spelling, str(item))
        elif value is not None:
            # A journal URL's password is not repeated on the terminal: the
            # hint shows *** in its place (or use $BROADCASTIO_JOURNAL).
            yield from (spelling, journal_display(str(value)))


def _global_words(state: CliState) -> Iterator[str]:
    if state.config_path is not None:
        yield from ("--config", str(state.config_path))
    yield from ["-v"] * state.verbosity
    if state.quiet:
        yield "-q"


def resume_command(ctx: click.Context, state: CliState, broadcast_id: str) -> str:
    """The shell command that resumes ``broadcast_id`` with the options ``ctx`` was given.

    ``ctx`` is the broadcast command's context and ``state`` the global options
    (``CliState``); they go right after the program's name.
    """
    chain: list[click.Context] = []
    current: click.Context | None = ctx
    while current is not None:
        chain.append(current)
        current = current.parent
    root, *levels = reversed(chain)
    words = [root.info_name or "broadcastio", *_global_words(state)]
    for level in levels:
        words.append(level.info_name or level.command.name or "")
        words.extend(_words(level, _ID_PARAMETERS if level is ctx else ()))
    words += ["--resume", broadcast_id]
    return shlex.join(words)


def journal_show_command(
    ctx: click.Context, state: CliState, broadcast_id: str, journal: str | None
) -> str:
    """The shell command that shows ``broadcast_id`` in the journal a broadcast used.

    ``journal`` is ``--journal`` as typed, or ``None`` when the journal came
    from the environment or the default (which the same environment finds
    again). ``--config`` is passed on when given: ``journal show`` does not use
    it today, but a setting of the journal's may live there. An id that starts
    with ``-`` follows ``--``, so it cannot be read as an option.
    """
    words = [ctx.find_root().info_name or "broadcastio"]
    if state.config_path is not None:
        words += ["--config", str(state.config_path)]
    words += ["journal", "show"]
    if journal is not None:
        words += ["--journal", journal_display(journal)]
    if broadcast_id.startswith("-"):
        words.append("--")
    words.append(broadcast_id)
    return shlex.join(words)

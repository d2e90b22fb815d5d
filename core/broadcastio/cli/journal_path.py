"""Where the command line keeps its broadcast journal unless told otherwise.

The journal is on by default for ``broadcastio broadcast``: a crash half-way
through a cron job is exactly when nobody thought to pass ``--journal``. It
lives with the user's state files so ``--resume ID`` works from any directory:
``$BROADCASTIO_JOURNAL`` if set, else ``$XDG_STATE_HOME/broadcastio/journal.sqlite``
(``~/.local/state/...``) on Linux and the platform's application directory
elsewhere.

Without ``--journal``: ``$BROADCASTIO_JOURNAL``, then the configuration's
``[broadcast] journal``, then that default. ``--journal``,
``$BROADCASTIO_JOURNAL`` and ``[broadcast] journal`` take a journal URL as well as a
path (``JournalLocationType``): a path or ``sqlite:///PATH`` becomes a
``Path`` (an SQLite file, with everything the commands do for files: the
directory made, the refusal to write over an input), ``postgresql://...``
stays the URL text, and any other scheme is a usage error naming the URL with
its password hidden.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from broadcastio.config import BroadcastioConfig

__all__ = [
    "JOURNAL_ENV",
    "JournalLocation",
    "JournalLocationType",
    "command_journal",
    "configured_journal",
    "default_journal_path",
    "journal_location",
    "make_journal_directory",
]

JournalLocation = Path | str
"""A journal as the commands hold it: an SQLite file's ``Path``, or a server's URL."""

JOURNAL_ENV = "BROADCASTIO_JOURNAL"
_FILE_NAME = "journal.sqlite"


def journal_location(value: str | os.PathLike[str]) -> JournalLocation:
    """``value`` as a ``Path`` (a file or ``sqlite://`` URL) or a server URL.

    Raises ``ValidationError`` for a URL of an unknown scheme.
    """
    from broadcastio.broadcast.journal.location import sqlite_path

    path = sqlite_path(value)
    return str(value) if path is None else path


class JournalLocationType(click.ParamType[JournalLocation, Any]):
    """``--journal PATH|URL``: see the module docstring."""

    name = "path_or_url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> JournalLocation:
        from broadcastio.errors import ValidationError

        if isinstance(value, Path):
            return value
        try:
            return journal_location(value)
        except ValidationError as error:
            self.fail(error.message, param, ctx)


def configured_journal(config: BroadcastioConfig) -> JournalLocation | None:
    """``[broadcast] journal`` of ``config``, checked; ``None`` when the file sets none.

    A URL of an unknown scheme is a ``ConfigurationError`` naming the file and
    the key, with the URL's password hidden.
    """
    from broadcastio.errors import ConfigurationError, ValidationError

    value = config.broadcast.journal
    if value is None:
        return None
    try:
        location = journal_location(value)
    except ValidationError as error:
        label = str(config.source.path) if config.source.path is not None else "configuration"
        raise ConfigurationError(
            key_path=("broadcast", "journal"), problem=error.message
        ).located(label) from None
    return location.expanduser() if isinstance(location, Path) else location


def default_journal_path(
    environ: Mapping[str, str] | None = None, configured: JournalLocation | None = None
) -> JournalLocation:
    """The journal the CLI uses when ``--journal`` is not given (a file, or a URL).

    ``$BROADCASTIO_JOURNAL`` first, then ``configured`` (the configuration's
    ``[broadcast] journal``, see ``configured_journal``), then the state directory.
    """
    environ = os.environ if environ is None else environ
    if environ.get(JOURNAL_ENV):
        value = environ[JOURNAL_ENV]
        location = journal_location(value)
        return location.expanduser() if isinstance(location, Path) else location
    if configured is not None:
        return configured
    if sys.platform.startswith(("win", "darwin")):
        return Path(click.get_app_dir("broadcastio")) / _FILE_NAME
    state_home = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "broadcastio" / _FILE_NAME


def command_journal(journal_path: JournalLocation | None) -> JournalLocation:
    """The journal a command uses: ``--journal``, else ``$BROADCASTIO_JOURNAL``, else
    the configuration's ``[broadcast] journal`` (read only then), else the default."""
    if journal_path is not None:
        return journal_path
    if os.environ.get(JOURNAL_ENV):
        return default_journal_path()
    from broadcastio.cli.state import CliState

    state = click.get_current_context().find_object(CliState)
    configured = None if state is None else configured_journal(state.load_config())
    return default_journal_path(configured=configured)


def make_journal_directory(path: JournalLocation) -> None:
    """Create the directory ``path`` (a journal file) goes in, if missing; a URL needs none.

    What stands in the way (``$XDG_STATE_HOME`` naming a file, a read-only
    parent) is the user's environment: a ``JournalError`` naming the directory,
    which the command line reports on one line with exit code 2.
    """
    from broadcastio.broadcast.journal import JournalError, JournalProblem

    if not isinstance(path, Path):
        return
    try:
        # Owner only, like the journal file in it: the journal holds personal data.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        blocker = Path(error.filename) if error.filename else path.parent
        raise JournalError(
            path,
            JournalProblem.CANNOT_OPEN,
            detail=f"cannot create directory {blocker}: {error.strerror or error}",
            advice="set --journal, $BROADCASTIO_JOURNAL or $XDG_STATE_HOME to a usable place",
        ) from None

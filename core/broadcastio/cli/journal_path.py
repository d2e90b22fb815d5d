"""Where the command line keeps its broadcast journal unless told otherwise.

The journal is on by default for ``broadcastio broadcast``: a crash half-way
through a cron job is exactly when nobody thought to pass ``--journal``. It
lives with the user's state files so ``--resume ID`` works from any directory:
``$BROADCASTIO_JOURNAL`` if set, else ``$XDG_STATE_HOME/broadcastio/journal.sqlite``
(``~/.local/state/...``) on Linux and the platform's application directory
elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["JOURNAL_ENV", "default_journal_path", "make_journal_directory"]

JOURNAL_ENV = "BROADCASTIO_JOURNAL"
_FILE_NAME = "journal.sqlite"


def default_journal_path(environ: Mapping[str, str] | None = None) -> Path:
    """The journal file the CLI uses when ``--journal`` is not given."""
    environ = os.environ if environ is None else environ
    if environ.get(JOURNAL_ENV):
        return Path(environ[JOURNAL_ENV]).expanduser()
    if sys.platform.startswith(("win", "darwin")):
        import click

        return Path(click.get_app_dir("broadcastio")) / _FILE_NAME
    state_home = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "broadcastio" / _FILE_NAME


def make_journal_directory(path: Path) -> None:
    """Create the directory ``path`` (a journal file) goes in, if missing.

    What stands in the way (``$XDG_STATE_HOME`` naming a file, a read-only
    parent) is the user's environment: a ``JournalError`` naming the directory,
    which the command line reports on one line with exit code 2.
    """
    from broadcastio.broadcast.journal import JournalError, JournalProblem

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

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

__all__ = ["JOURNAL_ENV", "default_journal_path"]

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

"""``JournalError``: a journal file that cannot be used as asked, and why.

Everything that can go wrong with the journal *file* (as opposed to a bad
argument or a bad input row) is the user's environment, not a bug in
broadcastio: a read-only file, a full disk, a damaged page, another run holding
the broadcast. Each is raised as a ``JournalError`` carrying the file, the kind
of problem (``JournalProblem``) and SQLite's own words as separate fields, so a
caller can branch on ``error.problem`` and the command line can print one line.

What to do about a problem depends on what was being done: a damaged journal
met by a broadcast run means "nothing was sent, do not resume from it"; met by
``journal show`` it means "nothing was changed, and this command cannot read it
either, so salvage it". The operation is a field too (``JournalOperation``),
set by whoever knows it (``JournalError.during``), never read back from text.

``sqlite_problem`` is the one place that maps SQLite's result codes onto those
kinds; it reads the numeric code (Python 3.11+), never the message text.
"""

from __future__ import annotations

import enum
import os
import shlex
import sqlite3
import sys
from pathlib import Path

from broadcastio.errors import ValidationError

__all__ = ["JournalError", "JournalOperation", "JournalProblem", "sqlite_problem"]


class JournalProblem(str, enum.Enum):
    """What is wrong with a journal file; the value is a short phrase for messages."""

    MISSING = "does not exist"
    NOT_A_JOURNAL = "is not a broadcastio journal"
    NEWER_SCHEMA = "was written by a newer broadcastio"
    DAMAGED = "is damaged"
    READ_ONLY = "cannot be written"
    CANNOT_OPEN = "cannot be opened or created"
    FULL = "cannot grow: the disk or file-size limit is full"
    IO_ERROR = "could not be written or read (an I/O error)"
    BUSY = "stayed locked by another process for longer than the wait"
    GONE = "was deleted or replaced while in use"
    IN_USE = "is in use by another run of the same broadcast"

    def __str__(self) -> str:
        return self.value


class JournalOperation(str, enum.Enum):
    """What was being done with the journal when the problem was met.

    ``RUN`` is a broadcast run (it writes, and trusts the journal to decide whom
    not to send to again); ``READ`` an inspection that only reads (``journal
    list``, ``show``, ``export``, ``Journal(read_only=True)``).
    """

    RUN = "run"
    READ = "read"

    def __str__(self) -> str:
        return self.value


def _salvage_command(journal: Path) -> str:
    """The shell command that copies what SQLite can still read into a new file."""
    recovered = journal.with_name(f"{journal.stem}-recovered{journal.suffix or '.sqlite'}")
    return f"sqlite3 {shlex.quote(str(journal))} .recover | sqlite3 {shlex.quote(str(recovered))}"


# The advice that goes with a problem when the caller gives none: what to do next.
# An operation's own advice comes first; a problem's plain entry is for a run,
# or when the operation is not known.
_ADVICE: dict[JournalProblem | tuple[JournalProblem, JournalOperation], str] = {
    JournalProblem.DAMAGED: (
        "nothing was sent; keep a copy of the file (salvage what it still holds into a new "
        "one with: {salvage}), and start a new broadcast id or journal file: resuming from "
        "a damaged journal could send twice"
    ),
    (JournalProblem.DAMAGED, JournalOperation.READ): (
        "nothing was changed (reading never writes the journal), but it cannot be read as "
        "it is; keep a copy of the file, salvage what it still holds into a new one (with: "
        "{salvage}) and read that one with --journal; to send again, start a new broadcast "
        "id or journal file"
    ),
    (JournalProblem.IO_ERROR, JournalOperation.READ): (
        "nothing was changed; check the disk and the filesystem, then try again"
    ),
    (JournalProblem.GONE, JournalOperation.READ): (
        "nothing was changed; the path no longer names the file being read, so try again"
    ),
    JournalProblem.READ_ONLY: "check the file's permissions and that its filesystem is writable",
    JournalProblem.CANNOT_OPEN: (
        "check that the directory exists and is writable (SQLite also creates FILE-wal and "
        "FILE-shm next to it)"
    ),
    JournalProblem.FULL: "free some space, then resume",
    JournalProblem.IO_ERROR: "check the disk and the filesystem, then resume",
    JournalProblem.BUSY: "wait for the other process to finish, then try again",
    JournalProblem.GONE: (
        "the rows journaled during this run are lost with the file; keep the journal on a "
        "path nothing cleans up"
    ),
}


class JournalError(ValidationError):
    """A journal file that cannot be used as asked: ``problem`` says why.

    A ``ValidationError`` so that callers (and the command line's exit code 2)
    treat it as a problem to fix before trying again, not as a delivery failure
    or a bug. ``journal`` is the file (a ``Path``), or for a journal on a
    server its URL with the password hidden (a ``str``), ``detail`` what SQLite or the operating
    system said, ``broadcast_id`` the broadcast concerned (if one is),
    ``operation`` what was being done (``None`` when the raiser does not know;
    see ``during``), and ``advice`` what to do about it, chosen from the problem
    and the operation unless given; all but the advice are also in ``details``.
    """

    # Narrows BroadcastioError.problem (the sentence) to the named problem, which is one.
    problem: JournalProblem

    def __init__(
        self,
        journal: str | os.PathLike[str],
        problem: JournalProblem,
        *,
        detail: str = "",
        broadcast_id: str | None = None,
        advice: str | None = None,
        operation: JournalOperation | None = None,
    ) -> None:
        # A file journal is a Path; a server's is its URL (already redacted),
        # which Path would mangle ("postgresql:/...").
        self.journal: Path | str = (
            journal if isinstance(journal, str) and "://" in journal else Path(journal)
        )
        self.problem = problem
        self.detail = detail
        self.broadcast_id = broadcast_id
        self.operation = operation
        self._given_advice = advice
        if advice is None:
            found = _ADVICE.get((problem, operation)) if operation is not None else None
            advice = (found or _ADVICE.get(problem, "")).format(
                salvage=_salvage_command(Path(self.journal))
            )
        self.advice = advice
        text = f"journal {self.journal} {problem}"
        if detail:
            text += f" ({detail})"
        if self.advice:
            text += f"; {self.advice}"
        super().__init__(
            text,
            details={
                "journal": str(self.journal),
                "problem": problem.name,
                "detail": detail,
                "broadcast_id": broadcast_id,
                "operation": None if operation is None else operation.name,
            },
        )

    def during(self, operation: JournalOperation) -> JournalError:
        """This error as met during ``operation``: same fields, that operation's advice.

        For the layer that knows what it was doing when a lower one, which does
        not, raised the error (the ``journal`` commands know they only read).
        Advice the raiser wrote itself is kept: it knew better than the table.
        """
        return JournalError(
            self.journal,
            self.problem,
            detail=self.detail,
            broadcast_id=self.broadcast_id,
            advice=self._given_advice,
            operation=operation,
        )


# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26

_PROBLEM_OF_CODE = {
    _SQLITE_PERM: JournalProblem.READ_ONLY,
    _SQLITE_BUSY: JournalProblem.BUSY,
    _SQLITE_LOCKED: JournalProblem.BUSY,
    _SQLITE_READONLY: JournalProblem.READ_ONLY,
    _SQLITE_IOERR: JournalProblem.IO_ERROR,
    _SQLITE_CORRUPT: JournalProblem.DAMAGED,
    _SQLITE_FULL: JournalProblem.FULL,
    _SQLITE_CANTOPEN: JournalProblem.CANNOT_OPEN,
    _SQLITE_NOTADB: JournalProblem.DAMAGED,
}


def sqlite_problem(error: sqlite3.Error) -> JournalProblem | None:
    """The kind of journal problem ``error`` reports, or ``None`` when it is not one.

    ``None`` means the error is not about the file (a programming error such as
    a bad statement): the caller lets it propagate as the bug it is. From Python
    3.11 every error SQLite reports carries its result code; an
    ``OperationalError`` without one comes from the ``sqlite3`` module itself,
    and the one a journal can meet is a text value that is not UTF-8 (the
    journal only ever writes ``str``): damage. Python 3.10 gives no codes, so a
    ``DatabaseError`` that is not an ``OperationalError`` is taken as damage
    ("file is not a database", "malformed") and any other ``OperationalError``
    as an I/O problem.
    """
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _PROBLEM_OF_CODE.get(code & 0xFF)
    if isinstance(error, sqlite3.OperationalError):
        return JournalProblem.DAMAGED if sys.version_info >= (3, 11) else JournalProblem.IO_ERROR
    if type(error) is sqlite3.DatabaseError:
        return JournalProblem.DAMAGED
    return None

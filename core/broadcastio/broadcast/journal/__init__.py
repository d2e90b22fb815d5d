"""The journal of broadcasts: every recipient's state, in an SQLite file or a PostgreSQL database.

One module per job, bottom to top: ``errors`` (``JournalError`` and what it
names), ``sql`` (the schema and statements, in SQL both backends accept),
``backend`` (the seam: what ``Journal`` needs from where its rows live),
``file`` (the SQLite backend: the file and its one connection), ``claim``
(SQLite's run claim: at most one live run per broadcast id), ``postgres``
(the PostgreSQL backend and its run claim, imported only for a
``postgresql://`` journal), ``location`` (which backend a path or URL
names), ``queued`` (the mark a queued broadcast leaves while workers
hold its messages), ``records`` (the rows, entries and admissions the journal hands
out), ``reading`` and ``runs`` (the two halves of ``Journal`` that have rules
of their own) and ``store`` (``Journal`` itself, with the writing a run
does). This package only re-exports; see ``docs/broadcasts.md`` for the
contract.
"""

from __future__ import annotations

from broadcastio.broadcast.journal.errors import JournalError, JournalOperation, JournalProblem
from broadcastio.broadcast.journal.records import (
    JOURNAL_COLUMNS,
    Admission,
    BroadcastInfo,
    JournalRow,
)
from broadcastio.broadcast.journal.sql import SCHEMA_VERSION
from broadcastio.broadcast.journal.store import Journal

__all__ = [
    "Admission",
    "BroadcastInfo",
    "JOURNAL_COLUMNS",
    "Journal",
    "JournalError",
    "JournalOperation",
    "JournalProblem",
    "JournalRow",
    "SCHEMA_VERSION",
]

"""Reading a journal: the methods people and tools use to look at broadcasts.

A mixin of ``Journal``, kept apart from the writing side because the two have
different jobs and different callers: these run in a CLI or a dashboard,
possibly while another process is broadcasting into the same file, so they
only ever hold the lock for one short query and never hold a read transaction
open between pages.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, TextIO

from broadcastio.broadcast.journal import sql
from broadcastio.broadcast.journal.backend import JournalStorage
from broadcastio.broadcast.journal.records import (
    JOURNAL_COLUMNS,
    BroadcastInfo,
    JournalRow,
    info_from_values,
    row_from_values,
)
from broadcastio.broadcast.states import RecipientState
from broadcastio.records.checks import check_bool
from broadcastio.records.contact import Contact, recipient_key
from broadcastio.errors import ValidationError

__all__ = ["JournalReading", "spreadsheet_cell"]

# Rows fetched per lock acquisition by the lazy readers.
_PAGE_SIZE = 500

# What makes a spreadsheet read a cell as a formula (tab and CR: some strip them first).
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
# A number, or a phone number written with a sign, spaces, dots, dashes or
# parentheses: no letters, quotes or operators a formula could use to call
# anything, so it is left as it is (every E.164 recipient starts with "+").
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9][0-9 ().-]*")


def spreadsheet_cell(value: object) -> object:
    """``value``, with a leading ``'`` if a spreadsheet would take the text as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
    prefixed, unless it is a plain number such as ``+15551234567`` or
    ``-3``: those cannot call a function, and the recipient column is mostly
    made of them. Anything that is not text is returned as it is.
    """
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_LEADS)
        and _PLAIN_NUMBER.fullmatch(value) is None
    ):
        return "'" + value
    return value


class JournalReading:
    """The questions a journal answers; an unknown broadcast id raises ``ValidationError``."""

    _file: JournalStorage

    def broadcasts(self) -> list[BroadcastInfo]:
        """Every broadcast in the journal, oldest first."""
        file = self._file
        with file.decoding(), file.locked() as connection:
            found = connection.execute(sql.SELECT_BROADCASTS).fetchall()
            return [info_from_values(*values) for values in found]

    def info(self, broadcast_id: str) -> BroadcastInfo:
        """One broadcast's entry: when it started, how many runs, the last run's report."""
        file = self._file
        with file.decoding(broadcast_id), file.locked(broadcast_id) as connection:
            file.key_locked(broadcast_id, create=False)
            found = connection.execute(sql.SELECT_BROADCAST, (broadcast_id,)).fetchone()
            return info_from_values(*found)

    def summary(self, broadcast_id: str) -> dict[RecipientState, int]:
        """How many recipients of ``broadcast_id`` are in each state (every state listed)."""
        file = self._file
        with file.decoding(broadcast_id), file.locked(broadcast_id) as connection:
            key = file.key_locked(broadcast_id, create=False)
            found = connection.execute(sql.COUNT_STATES, (key,)).fetchall()
            counts = dict.fromkeys(RecipientState, 0)
            for state, count in found:
                counts[RecipientState(state)] = count
        return counts

    @property
    def schema_version(self) -> int:
        """The file's schema version: ``SCHEMA_VERSION``, or older for a file opened read-only.

        A read-only journal written by an older broadcastio is read as it is
        (nothing is lost: its rows lack only what later versions added, the
        contact columns of ``JournalRow``); opening it for writing migrates it.
        """
        return self._file.schema_version

    def row(self, broadcast_id: str, recipient: str | Contact) -> JournalRow | None:
        """The row of one recipient (a plain recipient, a contact or its key), or ``None``.

        ``None`` when this broadcast never read that recipient.
        """
        file = self._file
        queries = sql.row_queries(file.schema_version)
        with file.decoding(broadcast_id), file.locked(broadcast_id) as connection:
            key = file.key_locked(broadcast_id, create=False)
            found = connection.execute(
                queries.select_row, (key, recipient_key(recipient))
            ).fetchone()
            return None if found is None else row_from_values(broadcast_id, found)

    def rows(
        self, broadcast_id: str, *, state: RecipientState | str | None = None
    ) -> Iterator[JournalRow]:
        """The rows of ``broadcast_id`` (only those in ``state``, if given), by recipient.

        Lazy: rows are fetched a page at a time, so a million-row broadcast is
        never in memory at once, and no read transaction is held between pages.
        An unknown broadcast id or state is reported by this call, not at the
        first row.
        """
        pages = self._pages(broadcast_id, state)
        return self._decoded_rows(broadcast_id, pages)

    def _decoded_rows(
        self, broadcast_id: str, pages: Iterator[list[tuple[Any, ...]]]
    ) -> Iterator[JournalRow]:
        with self._file.decoding(broadcast_id):
            for page in pages:
                for values in page:
                    yield row_from_values(broadcast_id, values)

    def export_csv(
        self,
        broadcast_id: str,
        file: TextIO,
        *,
        state: RecipientState | str | None = None,
        spreadsheet_safe: bool = True,
    ) -> int:
        """Write ``rows(broadcast_id, state=state)`` to ``file`` as CSV; how many rows.

        The header is ``JOURNAL_COLUMNS`` (``JournalRow``'s fields); times are
        ISO-8601 UTC, ``addresses`` is the JSON object the journal stores
        (``{"email":"...","phone":"..."}``) and missing values are empty. Open ``file`` with
        ``newline=""``, as the csv module asks.

        With ``spreadsheet_safe`` (the default) a cell a spreadsheet would run
        as a formula gets a leading ``'`` (see ``spreadsheet_cell``): recipients
        and error messages come from files and providers, and a CSV export is
        made to be opened in a spreadsheet. ``spreadsheet_safe=False`` writes
        every value verbatim, for programs that read the CSV.
        """
        check_bool("spreadsheet_safe", spreadsheet_safe)
        pages = self._pages(broadcast_id, state)
        writer = csv.writer(file)
        writer.writerow(JOURNAL_COLUMNS)
        written = 0
        with self._file.decoding(broadcast_id):
            for page in pages:
                if spreadsheet_safe:
                    writer.writerows(
                        (broadcast_id, *(spreadsheet_cell(value) for value in values))
                        for values in page
                    )
                else:
                    writer.writerows((broadcast_id, *values) for values in page)
                written += len(page)
        return written

    def _pages(
        self, broadcast_id: str, state: RecipientState | str | None
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Checks the arguments now; the returned generator fetches lazily."""
        file = self._file
        queries = sql.row_queries(file.schema_version)
        with file.locked(broadcast_id):
            key = file.key_locked(broadcast_id, create=False)
        if state is None:
            return self._paginate(broadcast_id, queries.page, (key,))
        try:
            wanted = RecipientState(state)
        except ValueError:
            names = ", ".join(item.value for item in RecipientState)
            raise ValidationError(f"state must be one of {names}; got {state!r}") from None
        return self._paginate(broadcast_id, queries.page_in_state, (key, wanted.value))

    def _paginate(
        self, broadcast_id: str, query: str, arguments: tuple[Any, ...]
    ) -> Iterator[list[tuple[Any, ...]]]:
        file = self._file
        after = ""  # recipients are never empty, so "" sorts before every one
        while True:
            with file.locked(broadcast_id) as connection:
                page = connection.execute(query, (*arguments, after, _PAGE_SIZE)).fetchall()
            if page:
                yield page
            if len(page) < _PAGE_SIZE:
                return
            after = page[-1][0]

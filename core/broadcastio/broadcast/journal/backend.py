"""The seam between ``Journal`` and where its rows live: what a journal backend provides.

``Journal`` (``store``, ``reading``, ``runs``, ``receipts``) speaks SQL that
SQLite and PostgreSQL both accept, through one connection guarded by one lock,
and asks the backend for the rest: opening and checking the database, turning
the driver's errors into ``JournalError``, the broadcast keys, transactions,
and the claim on a broadcast id that keeps two runs of it apart, and the mark a
queued broadcast leaves while workers hold its messages (``queued``). A backend is
one module with one class that has the members of ``JournalStorage``:
``file.JournalFile`` (SQLite, the default) and ``postgres.PostgresJournal``.
``location.open_storage`` picks one from the journal's path or URL, so a third
backend is one new module and one line there.

The statements use ``?`` placeholders (SQLite's); a backend whose driver wants
another style translates them in its connection, as ``postgres`` does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from broadcastio.broadcast.journal.queued import QueuedLease

__all__ = ["JournalConnection", "JournalCursor", "JournalStorage", "RunClaimLike"]


class JournalCursor(Protocol):
    """What a statement's result offers: its rows, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class JournalConnection(Protocol):
    """A connection as the journal's statements use it (``sqlite3.Connection``'s shape)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


class RunClaimLike(Protocol):
    """A held claim on one broadcast id: at most one live run of it (see ``claim``)."""

    @property
    def held(self) -> bool: ...

    def release(self) -> None: ...


class JournalStorage(Protocol):
    """One open journal database, as ``Journal`` uses it.

    ``path`` is the journal file for a file backend and ``None`` for a server;
    ``location`` is what to call the journal in messages: the path, or the URL
    with its password replaced by ``***``. Every method ending in ``_locked``
    expects the caller to hold ``lock`` (through ``locked``).
    """

    @property
    def path(self) -> Path | None: ...

    @property
    def location(self) -> str: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def lock(self) -> threading.Lock: ...

    @property
    def schema_version(self) -> int: ...

    @property
    def connection(self) -> JournalConnection: ...

    def locked(
        self, broadcast_id: str | None = None
    ) -> AbstractContextManager[JournalConnection]: ...

    def decoding(self, broadcast_id: str | None = None) -> AbstractContextManager[None]: ...

    def in_place(self) -> bool: ...

    def check_in_place(self, broadcast_id: str | None = None) -> None: ...

    def integrity_check_locked(self, broadcast_id: str | None = None) -> None: ...

    def key_locked(self, broadcast_id: str, *, create: bool) -> int: ...

    def forget_key_locked(self, broadcast_id: str) -> None: ...

    def known_locked(self, broadcast_id: str) -> bool: ...

    def transaction_locked(self) -> AbstractContextManager[JournalConnection]: ...

    def claim_run(self, broadcast_id: str) -> RunClaimLike: ...

    def queued_lease_locked(self, broadcast_id: str) -> QueuedLease | None: ...

    def hold_queued_lease_locked(self, lease: QueuedLease) -> None: ...

    def end_queued_lease_locked(self, broadcast_id: str, token: str | None) -> None: ...

    def close(self) -> None: ...

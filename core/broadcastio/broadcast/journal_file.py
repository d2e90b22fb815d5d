"""The journal's SQLite file: opening and checking it, its one connection, its transactions.

Everything here is about the file, not about broadcasts: ``Journal`` builds the
broadcast semantics on top. The rules kept in one place:

* the path must be a file (not a directory) in an existing directory, and an
  existing file must be a broadcastio journal of a schema version we know;
* WAL mode, ``synchronous=NORMAL`` (``FULL`` when durable), a 30 s busy timeout
  so another process writing the same journal waits instead of failing;
* no implicit transactions (``isolation_level=None``): a single statement is
  its own transaction, committed when it returns, so a state transition is
  durable exactly where the journal's contract says; the few multi-statement
  changes use ``transaction_locked``;
* every use of the connection holds ``lock`` (methods ending in ``_locked``
  expect the caller to hold it).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from broadcastio.broadcast import journal_sql as sql
from broadcastio.errors import ValidationError

__all__ = ["JournalFile", "utc_now_text"]

logger = logging.getLogger("broadcastio")

_UTC = _dt.timezone.utc


def utc_now_text() -> str:
    """The current time as the journal stores it: ISO-8601, UTC."""
    return _dt.datetime.now(_UTC).isoformat()


class JournalFile:
    """One open journal file: the connection, the lock that guards it, the broadcast keys."""

    def __init__(self, path: str | os.PathLike[str], *, durable: bool, create: bool) -> None:
        self.path = _check_path(path, create=create)
        self.lock = threading.Lock()
        self.connection = _connect(self.path, durable)
        self._keys: dict[str, int] = {}

    def key_locked(self, broadcast_id: str, *, create: bool) -> int:
        """The integer key of ``broadcast_id``; made if ``create``, else unknown ids raise."""
        key = self._keys.get(broadcast_id)
        if key is not None:
            return key
        connection = self.connection
        found = connection.execute(sql.SELECT_KEY, (broadcast_id,)).fetchone()
        if found is None:
            if not create:
                raise ValidationError(
                    f"no broadcast {broadcast_id!r} in journal {self.path}",
                    details={"broadcast_id": broadcast_id, "journal": str(self.path)},
                )
            # Another process may create the same broadcast at the same moment:
            # insert-if-absent, then read whichever row won.
            now = utc_now_text()
            connection.execute(sql.INSERT_BROADCAST, (broadcast_id, now, now))
            found = connection.execute(sql.SELECT_KEY, (broadcast_id,)).fetchone()
        key = int(found[0])
        self._keys[broadcast_id] = key
        return key

    @contextmanager
    def transaction_locked(self) -> Iterator[sqlite3.Connection]:
        """Run several statements as one transaction: all committed, or none."""
        connection = self.connection
        connection.execute("BEGIN")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (everything is committed already)."""
        with self.lock:
            self.connection.close()


def _check_path(path: str | os.PathLike[str], *, create: bool) -> Path:
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValidationError(f"journal must be a file path or a Journal, got {path!r}")
    resolved = Path(path)
    if resolved.is_dir():
        raise ValidationError(
            f"journal path {resolved} is a directory; give a file inside it, "
            f"such as {resolved / 'broadcasts.sqlite'}"
        )
    if not resolved.exists():
        if not create:
            raise ValidationError(f"no journal at {resolved}")
        if not resolved.parent.is_dir():
            raise ValidationError(
                f"cannot create journal {resolved}: directory {resolved.parent} does not exist"
            )
    return resolved


def _connect(path: Path, durable: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version == 0:
            (tables,) = connection.execute(sql.COUNT_TABLES).fetchone()
            if tables:
                raise ValidationError(f"{path} is an SQLite database but not a broadcastio journal")
        elif version > sql.SCHEMA_VERSION:
            raise ValidationError(
                f"journal {path} has schema version {version}, newer than this broadcastio "
                f"understands ({sql.SCHEMA_VERSION}); upgrade broadcastio to read it"
            )
        (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode != "wal":
            logger.warning(
                "journal %s: WAL mode unavailable (got %r); commits are slower", path, mode
            )
        connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        if version == 0:
            connection.executescript(sql.SCHEMA)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ValidationError(f"{path} is not a usable broadcastio journal: {error}") from None
    except BaseException:
        connection.close()
        raise
    return connection

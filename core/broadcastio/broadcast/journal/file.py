"""The journal's SQLite file: opening and checking it, its one connection, its transactions.

Everything here is about the file, not about broadcasts: ``Journal`` builds the
broadcast semantics on top. The rules kept in one place:

* the path must be a file (not a directory) in an existing directory, and an
  existing file must be a broadcastio journal of a schema version we know;
* a journal of an older schema version is read as it is when opened
  ``read_only`` (``schema_version`` says which), and migrated in place, in one
  transaction, when opened for writing: a crash part-way leaves the old
  version whole, and the file keeps its inode and permissions;
* a journal opened ``read_only`` is opened by SQLite read-only (``mode=ro``):
  an inspection command cannot change, let alone destroy, the file it reads;
* a journal opened for writing is proved writable at once (a no-op write), so a
  read-only file is reported when it is opened, not at the first send;
* WAL mode, ``synchronous=NORMAL`` (``FULL`` when durable), a 30 s busy timeout
  so another process writing the same journal waits instead of failing;
* every SQLite error that is about the file (read-only, full, damaged, locked
  too long, an I/O error) leaves as a ``JournalError`` naming the file, through
  ``locked()``; and the file's identity (device, inode) is kept, so a journal
  deleted or replaced under a running broadcast is noticed (``check_in_place``);
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
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from cattrs.errors import BaseValidationError

from broadcastio.broadcast.journal import sql
from broadcastio.broadcast.journal.claim import RunClaim
from broadcastio.broadcast.journal.errors import JournalError, JournalProblem, sqlite_problem
from broadcastio.broadcast.journal.queued import (
    QueuedLease,
    read_lease_file,
    remove_lease_file,
    write_lease_file,
)
from broadcastio.errors import BroadcastioError, ValidationError

__all__ = ["JournalFile", "utc_now_text"]

logger = logging.getLogger("broadcastio")

_UTC = _dt.timezone.utc

# What every SQLite database file starts with: tells "not a database at all"
# apart from "a database with damaged pages".
_SQLITE_HEADER = b"SQLite format 3\x00"
# The problems SQLite's integrity_check lists before we stop reading them.
_INTEGRITY_CHECK_LINES = 5


def utc_now_text() -> str:
    """The current time as the journal stores it: ISO-8601, UTC.

    The text of ``datetime.now(timezone.utc).isoformat()`` (microseconds
    left out when they are 0), made from ``time.time_ns()`` with the date and
    time of day formatted once per second: a journaled broadcast stamps every
    batch it admits and every group of outcomes it commits, and building a
    ``datetime`` to format it cost more than a third of what SQLite takes to
    commit a small batch.
    """
    return utc_text_of(time.time_ns())


def utc_text_of(nanoseconds: int) -> str:
    """``utc_now_text``'s text for ``nanoseconds`` since the epoch (truncated to microseconds)."""
    global _last_second
    seconds, micro = divmod(nanoseconds // 1000, 1_000_000)
    last, prefix = _last_second
    if seconds != last:
        prefix = _dt.datetime.fromtimestamp(seconds, _UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second = (seconds, prefix)  # one tuple: safe between threads
    if micro:
        return f"{prefix}.{micro:06d}+00:00"
    return f"{prefix}+00:00"


# The last whole second formatted by ``utc_text_of``, and its text.
_last_second: tuple[int, str] = (-1, "")


class JournalFile:
    """One open journal file: the connection, the lock that guards it, the broadcast keys.

    ``schema_version`` is the file's schema version: the current one for a
    journal opened for writing (created or migrated by opening it), possibly an
    older one for a journal opened ``read_only``, which is read as it is.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durable: bool,
        create: bool,
        read_only: bool = False,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = _check_path(path, create=create and not read_only)
        self.location = str(self.path)
        self.read_only = read_only
        self.lock = threading.Lock()
        self.connection, self.schema_version = _connect(self.path, durable, read_only, busy_timeout)
        self._identity = _identity(self.path)
        self._keys: dict[str, int] = {}

    @contextmanager
    def locked(self, broadcast_id: str | None = None) -> Iterator[sqlite3.Connection]:
        """Hold ``lock`` and use the connection; SQLite's file errors become ``JournalError``.

        An error SQLite does not attribute to the file (a bad statement: a bug)
        propagates unchanged. If the file is gone, that is said rather than
        SQLite's consequence of it.
        """
        with self.lock:
            try:
                yield self.connection
            except BroadcastioError:
                raise
            except sqlite3.Error as error:
                problem = sqlite_problem(error)
                if problem is None:
                    raise
                if not self.in_place():
                    problem = JournalProblem.GONE
                raise JournalError(
                    self.path, problem, detail=str(error), broadcast_id=broadcast_id
                ) from error
            except UnicodeDecodeError as error:
                raise _undecodable(self.path, error, broadcast_id) from error

    @contextmanager
    def decoding(self, broadcast_id: str | None = None) -> Iterator[None]:
        """Around turning stored values into records: one that cannot be is damage.

        The journal only stores what its own records produce, so a state, a
        time or a report that does not parse back was changed on disk.
        """
        try:
            yield
        except BroadcastioError:
            raise
        except (ValueError, TypeError, KeyError, BaseValidationError) as error:
            raise JournalError(
                self.path,
                JournalProblem.DAMAGED,
                detail=f"a stored value cannot be read back: {error}",
                broadcast_id=broadcast_id,
            ) from error

    def in_place(self) -> bool:
        """Whether the path still names the file that was opened (not deleted or replaced)."""
        return _identity(self.path) == self._identity

    def check_in_place(self, broadcast_id: str | None = None) -> None:
        """Raise ``JournalError`` (``GONE``) if the file was deleted, moved or replaced.

        SQLite keeps writing to a deleted file's inode without complaint, so a
        broadcast whose journal directory was removed would otherwise finish
        "successfully" with no journal at all.
        """
        if not self.in_place():
            raise JournalError(
                self.path,
                JournalProblem.GONE,
                detail="the path no longer names the file this run opened",
                broadcast_id=broadcast_id,
            )

    def integrity_check_locked(self, broadcast_id: str | None = None) -> None:
        """Raise ``JournalError`` (``DAMAGED``) unless SQLite's ``integrity_check`` finds nothing.

        It reads every page: b-tree structure, record format, key order, the
        free list, NOT NULL. ``quick_check`` is cheaper but skips the key order,
        and a damaged journal that passed it was seen making a resume send a
        delivered recipient again. Neither can see a byte changed inside a value
        that leaves the record well-formed and in order (SQLite keeps no page
        checksums); ``Journal`` checks the rows themselves for that.
        """
        query = f"PRAGMA integrity_check({_INTEGRITY_CHECK_LINES})"
        found = self.connection.execute(query).fetchall()
        problems = [str(line) for (line,) in found if line != "ok"]
        if problems:
            raise JournalError(
                self.path,
                JournalProblem.DAMAGED,
                detail="; ".join(problems),
                broadcast_id=broadcast_id,
            )

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

    def forget_key_locked(self, broadcast_id: str) -> None:
        """Drop the cached key of a broadcast whose row was deleted."""
        self._keys.pop(broadcast_id, None)

    def known_locked(self, broadcast_id: str) -> bool:
        """Whether the journal has ``broadcast_id`` (without creating it)."""
        if broadcast_id in self._keys:
            return True
        return self.connection.execute(sql.SELECT_KEY, (broadcast_id,)).fetchone() is not None

    def transaction_locked(self) -> _Transaction:
        """Run several statements as one transaction: all committed, or none.

        A Ctrl-C (``KeyboardInterrupt``) can land between any two bytecodes,
        including just after an earlier call's ``BEGIN`` and before its
        ``try``: that transaction was never committed, so it is rolled back
        here rather than making every later write fail with "cannot start a
        transaction within a transaction" (the run's wind-down among them).
        """
        return _Transaction(self.connection)

    def claim_run(self, broadcast_id: str) -> RunClaim:
        """Claim ``broadcast_id`` for one run: a lock file next to the journal (``claim``)."""
        return RunClaim(self.path, broadcast_id)

    def queued_lease_locked(self, broadcast_id: str) -> QueuedLease | None:
        """The queued mark of ``broadcast_id``: its lease file beside the journal (``queued``)."""
        return read_lease_file(self.path, broadcast_id)

    def hold_queued_lease_locked(self, lease: QueuedLease) -> None:
        """Write the lease file of ``lease.broadcast_id`` (a file: the schema stays as it is)."""
        write_lease_file(self.path, lease)

    def end_queued_lease_locked(self, broadcast_id: str, token: str | None) -> None:
        """Remove the lease file of ``broadcast_id`` (only submission ``token``'s, if given)."""
        remove_lease_file(self.path, broadcast_id, token)

    def close(self) -> None:
        """Close the connection (everything is committed already)."""
        with self.lock:
            self.connection.close()


class _Transaction:
    """``JournalFile.transaction_locked``: ``BEGIN`` on entry, then ``COMMIT`` or ``ROLLBACK``.

    A plain context manager object rather than a generator: a journaled run
    opens two transactions per batch. A Ctrl-C raised right after its
    ``BEGIN`` (no ``__exit__`` runs then) is caught in ``__enter__``, which
    rolls the transaction back; should one still be left open, the next
    transaction rolls it back first.
    """

    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> sqlite3.Connection:
        connection = self._connection
        if connection.in_transaction:  # an earlier BEGIN a Ctrl-C left behind
            connection.execute("ROLLBACK")
        try:
            connection.execute("BEGIN")
        except BaseException:
            # A Ctrl-C is raised as soon as the BEGIN call returns, before any
            # __exit__ can run: left open, the transaction would swallow the
            # next self-committing statements (the end of the run among them).
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return connection

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._connection
        if error is None:
            connection.execute("COMMIT")
        elif connection.in_transaction:  # SQLite may have rolled back already (a full disk)
            connection.execute("ROLLBACK")


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
            raise JournalError(resolved, JournalProblem.MISSING)
        if not resolved.parent.is_dir():
            raise ValidationError(
                f"cannot create journal {resolved}: directory {resolved.parent} does not exist"
            )
    elif not _starts_like_sqlite(resolved):
        raise JournalError(
            resolved,
            JournalProblem.NOT_A_JOURNAL,
            detail="it is not an SQLite database",
            advice="give the path of a journal file, or a new file to create one",
        )
    return resolved


def _starts_like_sqlite(path: Path) -> bool:
    """Whether ``path`` is empty (SQLite makes it a database) or has SQLite's header."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(_SQLITE_HEADER))
    except OSError as error:
        raise JournalError(
            path, JournalProblem.CANNOT_OPEN, detail=error.strerror or str(error)
        ) from None
    return head in (b"", _SQLITE_HEADER)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


def _create_private(path: Path) -> None:
    """Create a missing journal file readable by its owner only (``0600``).

    The journal holds personal data (phone numbers, email addresses) and may
    hold credentials (a contact's webhook URL). SQLite would create the file
    with ``0644`` less the umask, readable by every local user under the usual
    umask; created here first, SQLite opens it as it is and gives its ``-wal``
    and ``-shm`` files the same mode. A file that exists keeps its mode.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect reports why the path cannot be opened, in its words
    os.close(descriptor)


def _connect(
    path: Path, durable: bool, read_only: bool, busy_timeout: float
) -> tuple[sqlite3.Connection, int]:
    """The open connection, and the schema version of the file as it now is."""
    try:
        if read_only:
            uri = f"file:{urllib.parse.quote(str(path.absolute()))}?mode=ro"
            connection = sqlite3.connect(
                uri, uri=True, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        else:
            _create_private(path)
            connection = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
    except sqlite3.Error as error:
        raise _file_error(path, error) from error
    try:
        version = _prepare(connection, path, durable, read_only, busy_timeout)
    except sqlite3.Error as error:
        connection.close()
        raise _file_error(path, error) from error
    except UnicodeDecodeError as error:
        connection.close()
        raise _undecodable(path, error, None) from error
    except BaseException:
        connection.close()
        raise
    return connection, version


def _prepare(
    connection: sqlite3.Connection, path: Path, durable: bool, read_only: bool, busy_timeout: float
) -> int:
    """Check (and, for writing, create or migrate) the file; its schema version after that."""
    # The version and the tables are read in one read transaction: another
    # process creating the journal (tables and version in one transaction) must
    # not be seen half-way, tables already there but the version not yet read.
    connection.execute("BEGIN")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        tables = connection.execute(sql.COUNT_TABLES).fetchone()[0] if version == 0 else 0
    finally:
        connection.execute("COMMIT")
    if version == 0:
        if tables:
            raise JournalError(
                path,
                JournalProblem.NOT_A_JOURNAL,
                detail="an SQLite database with other tables",
                advice="give the path of a journal file, or a new file to create one",
            )
        if read_only:
            raise JournalError(
                path, JournalProblem.NOT_A_JOURNAL, detail="an empty file", advice=""
            )
    elif version > sql.SCHEMA_VERSION:
        raise _newer_schema(path, version)
    if version:
        _check_tables(connection, path, version)
    if read_only:
        return int(version)
    mode = _enable_wal(connection, busy_timeout)
    if mode != "wal":
        logger.warning("journal %s: WAL mode unavailable (got %r); commits are slower", path, mode)
    connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    if version == 0:
        connection.executescript(sql.SCHEMA)
    elif version < sql.SCHEMA_VERSION:
        _migrate(connection, path)
    else:
        # A write that changes nothing: SQLite opens a file it may not write
        # read-only without a word, and would say so only at the first real write.
        connection.execute(sql.PROVE_WRITABLE)
    return sql.SCHEMA_VERSION


def _enable_wal(connection: sqlite3.Connection, busy_timeout: float) -> str:
    """Switch the file to WAL (once: the mode is kept in the file); the mode it is in after.

    Switching needs the file to itself, and SQLite answers "database is
    locked" at once, without its busy wait, while another process has it
    open: several processes opening a new journal together (a submitter and
    its workers) would fail. So a file already in WAL is left alone, and the
    switch is retried for up to the busy timeout.
    """
    (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    if mode == "wal":
        return "wal"
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            return str(mode)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring an older journal to the current version, every step in one transaction.

    ``BEGIN IMMEDIATE`` takes the write lock first (waiting out another
    writer, up to the busy timeout), then the version is read again: another
    process may have migrated the file since this one looked (part or all of
    the way). Each step (``sql.MIGRATIONS``) changes the file in place: version
    2 added columns (``ALTER TABLE ... ADD COLUMN`` rewrites no row), version 3
    a table; so the file keeps its inode, permissions and every row. SQLite
    makes the steps and the new ``user_version`` atomic, so a crash, a full
    disk or a refused write (a read-only file: the first write fails) leaves
    the old version whole.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        if version > sql.SCHEMA_VERSION:  # a newer broadcastio got there first
            raise _newer_schema(path, version)
        for step in range(version, sql.SCHEMA_VERSION):
            for statement in getattr(sql, sql.MIGRATIONS[step]):
                connection.execute(statement)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    if version < sql.SCHEMA_VERSION:
        logger.info(
            "journal %s: schema upgraded from version %d to %d", path, version, sql.SCHEMA_VERSION
        )
    _check_tables(connection, path, sql.SCHEMA_VERSION)


def _newer_schema(path: Path, version: int) -> JournalError:
    return JournalError(
        path,
        JournalProblem.NEWER_SCHEMA,
        detail=f"schema version {version}; this broadcastio reads up to {sql.SCHEMA_VERSION}",
        advice="upgrade broadcastio to use it",
    )


def _check_tables(connection: sqlite3.Connection, path: Path, version: int) -> None:
    """The journal's tables must have the columns its schema ``version`` has.

    The schema is text in the file's first page: damage there can rename a
    column, and every statement would then fail as if broadcastio had a bug.
    """
    for table, expected in sql.TABLE_COLUMNS_OF_VERSION[version].items():
        found = tuple(name for (name,) in connection.execute(sql.TABLE_COLUMN_NAMES, (table,)))
        if found != expected:
            raise JournalError(
                path,
                JournalProblem.DAMAGED,
                detail=f"its {table} table has columns {', '.join(found) or 'none'}",
            )


def _undecodable(path: Path, error: UnicodeDecodeError, broadcast_id: str | None) -> JournalError:
    # SQLite's own words about a damaged schema can quote bytes that are not
    # UTF-8, which the sqlite3 module then fails to decode.
    detail = error.object[:200].decode("utf-8", "replace") if error.object else str(error)
    return JournalError(path, JournalProblem.DAMAGED, detail=detail, broadcast_id=broadcast_id)


def _file_error(path: Path, error: sqlite3.Error) -> BroadcastioError:
    problem = sqlite_problem(error)
    if problem is None:
        return ValidationError(f"{path} is not a usable broadcastio journal: {error}")
    return JournalError(path, problem, detail=str(error))

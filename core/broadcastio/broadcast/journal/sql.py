"""The journal's schema and statements, kept apart from the Python that runs them.

Two tables. ``broadcasts`` has one row per broadcast id, with an integer key so
that the (possibly long) id is not repeated in every recipient row.
``recipients`` has one row per (broadcast, recipient): the primary key is what
deduplicates recipients, and ``WITHOUT ROWID`` makes each state transition a
single b-tree lookup. ``run`` is the run that last read the row from its input,
which is how a second occurrence in the same input is told apart from a
recipient journaled by an earlier run. ``digest`` fingerprints the message so a
resume with different content is caught.

Schema version 2 added the person behind each row: ``contact_id`` and
``addresses`` (the contact as its run read it, JSON with sorted kinds; both
NULL for a plain recipient string, whose ``recipient`` is its address), and
``address_kind`` and ``address``: what the row's ``provider`` was handed. The
key stays ``recipient`` (``Contact.key``), so a person is still one row
whichever addresses they have. The columns were appended to the version 1
table, which is exactly what ``ALTER TABLE ... ADD COLUMN`` does, so a migrated
file and a new one have the same columns in the same order.

Schema version 3 added the ``receipts`` table: what the channel reported
after accepting a delivered row's message (WhatsApp's ticks), one row per
(broadcast, recipient) that has a receipt. A table of its own rather than
columns of ``recipients``: receipts arrive long after the send, from
``broadcastio journal sync``, and writing them never touches the rows a
running broadcast claims and settles. A recipient without a receipts row has
an unknown receipt (a channel without receipts, or not synced yet). The
statements that read and write it are in ``receipts``.
"""

from __future__ import annotations

import functools

__all__ = [
    "COUNT_ORPHANS",
    "COUNT_STATES",
    "COUNT_TABLES",
    "CREATE_RECEIPTS",
    "DELETE_UNUSED_BROADCAST",
    "END_RUN",
    "INSERT_BROADCAST",
    "MAX_ROWS_PER_STATEMENT",
    "MIGRATE_TO_V2",
    "MIGRATE_TO_V3",
    "MIGRATIONS",
    "PROVE_WRITABLE",
    "RECORD_OUTCOME",
    "RELEASE",
    "RowQueries",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT_BROADCAST",
    "SELECT_BROADCASTS",
    "SELECT_CHECKED",
    "SELECT_KEY",
    "SELECT_RUNS",
    "START_RUN",
    "TABLE_COLUMNS",
    "TABLE_COLUMNS_OF_VERSION",
    "TABLE_COLUMN_NAMES",
    "UNDO_RUN",
    "claim",
    "insert_pending",
    "mark_read",
    "row_queries",
    "select_admissions",
]

SCHEMA_VERSION = 3

# The receipts table (version 3). ``state`` is a ``ReceiptState`` value; the
# times are ISO-8601 UTC: ``updated_at`` the channel's time of ``state``,
# ``delivered_at`` and ``read_at`` when it reached the device and was read,
# ``synced_at`` when this journal last recorded a change.
CREATE_RECEIPTS = """CREATE TABLE IF NOT EXISTS receipts (
    broadcast    INTEGER NOT NULL REFERENCES broadcasts (key),
    recipient    TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    provider     TEXT NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT,
    delivered_at TEXT,
    read_at      TEXT,
    synced_at    TEXT NOT NULL,
    PRIMARY KEY (broadcast, recipient)
) WITHOUT ROWID"""

SCHEMA = f"""
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS broadcasts (
    key          INTEGER PRIMARY KEY,
    broadcast_id TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    runs         INTEGER NOT NULL DEFAULT 0,
    last_report  TEXT
);
CREATE TABLE IF NOT EXISTS recipients (
    broadcast     INTEGER NOT NULL REFERENCES broadcasts (key),
    recipient     TEXT NOT NULL,
    position      INTEGER NOT NULL,
    reference_id  TEXT NOT NULL,
    digest        TEXT NOT NULL,
    state         TEXT NOT NULL,
    run           INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    provider      TEXT,
    message_id    TEXT,
    error_code    TEXT,
    error_message TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT,
    completed_at  TEXT,
    contact_id    TEXT,
    addresses     TEXT,
    address_kind  TEXT,
    address       TEXT,
    PRIMARY KEY (broadcast, recipient)
) WITHOUT ROWID;
{CREATE_RECEIPTS};
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""

# Each table's columns, in order, per schema version (checked on open).
_BROADCASTS_COLUMNS = ("key", "broadcast_id", "created_at", "updated_at", "runs", "last_report")
_RECIPIENTS_COLUMNS_V1 = (
    "broadcast",
    "recipient",
    "position",
    "reference_id",
    "digest",
    "state",
    "run",
    "attempts",
    "provider",
    "message_id",
    "error_code",
    "error_message",
    "created_at",
    "sent_at",
    "completed_at",
)
_CONTACT_COLUMNS = ("contact_id", "addresses", "address_kind", "address")
_RECEIPTS_COLUMNS = (
    "broadcast",
    "recipient",
    "message_id",
    "provider",
    "state",
    "updated_at",
    "delivered_at",
    "read_at",
    "synced_at",
)
TABLE_COLUMNS_OF_VERSION: dict[int, dict[str, tuple[str, ...]]] = {
    1: {"broadcasts": _BROADCASTS_COLUMNS, "recipients": _RECIPIENTS_COLUMNS_V1},
    2: {
        "broadcasts": _BROADCASTS_COLUMNS,
        "recipients": _RECIPIENTS_COLUMNS_V1 + _CONTACT_COLUMNS,
    },
    3: {
        "broadcasts": _BROADCASTS_COLUMNS,
        "recipients": _RECIPIENTS_COLUMNS_V1 + _CONTACT_COLUMNS,
        "receipts": _RECEIPTS_COLUMNS,
    },
}
# What SCHEMA creates.
TABLE_COLUMNS = TABLE_COLUMNS_OF_VERSION[SCHEMA_VERSION]
TABLE_COLUMN_NAMES = "SELECT name FROM pragma_table_info(?) ORDER BY cid"

# From version 1 to 2, run by the opening connection in one transaction that
# also re-reads and sets user_version: a crash part-way leaves version 1 whole,
# and two processes opening the same old file cannot both migrate it.
MIGRATE_TO_V2: tuple[str, ...] = (
    *(f"ALTER TABLE recipients ADD COLUMN {column} TEXT" for column in _CONTACT_COLUMNS),
    "PRAGMA user_version = 2",
)

# From version 2 to 3: the new table, then the version, in the same
# transaction as any earlier step (a version 1 file runs MIGRATE_TO_V2 first).
MIGRATE_TO_V3: tuple[str, ...] = (CREATE_RECEIPTS, "PRAGMA user_version = 3")

MIGRATIONS: dict[int, str] = {1: "MIGRATE_TO_V2", 2: "MIGRATE_TO_V3"}
"""The name of the statements that bring a file of each old version one version up.

Names, looked up when the migration runs, so a test can replace one step."""

COUNT_TABLES = "SELECT count(*) FROM sqlite_master WHERE type = 'table'"

SELECT_KEY = "SELECT key FROM broadcasts WHERE broadcast_id = ?"
INSERT_BROADCAST = (
    "INSERT INTO broadcasts (broadcast_id, created_at, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (broadcast_id) DO NOTHING"
)
START_RUN = "UPDATE broadcasts SET runs = runs + 1, updated_at = ? WHERE key = ? RETURNING runs"
END_RUN = "UPDATE broadcasts SET last_report = ?, updated_at = ? WHERE key = ?"
SELECT_RUNS = "SELECT runs, updated_at FROM broadcasts WHERE key = ?"
# Forget a run that was refused before it journaled anything (parameters: the
# updated_at it replaced, key, its number), and a broadcast that only such a run made.
UNDO_RUN = "UPDATE broadcasts SET runs = runs - 1, updated_at = ? WHERE key = ? AND runs = ?"
DELETE_UNUSED_BROADCAST = (
    "DELETE FROM broadcasts WHERE key = ? AND runs = 0 AND last_report IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM recipients WHERE broadcast = ?)"
)
# A statement that needs a write transaction and changes nothing: SQLite
# refuses it at once when the file cannot be written.
PROVE_WRITABLE = "UPDATE broadcasts SET runs = runs WHERE 0"

# Admission works on a batch of rows per statement: each statement is one
# round trip into SQLite, during which the GIL is released and a sending thread
# may take it, so fewer statements mean fewer thread hand-offs (measured: the
# hand-offs, not the commits, are what a journaled broadcast spends its time on).
# 10 parameters a row stays far below SQLite's 32766-parameter limit.
MAX_ROWS_PER_STATEMENT = 500


@functools.lru_cache(maxsize=64)
def insert_pending(rows: int) -> str:
    """Insert ``rows`` new recipients as pending; returns the recipients actually inserted.

    Parameters per row: broadcast, recipient, position, reference_id, digest,
    run, created_at, contact_id, addresses. A recipient already journaled is
    left alone (and not returned), as is the second occurrence of a recipient
    within the batch.
    """
    values = ", ".join(["(?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO recipients "
        "(broadcast, recipient, position, reference_id, digest, state, run, attempts, created_at, "
        "contact_id, addresses) "
        f"VALUES {values} ON CONFLICT (broadcast, recipient) DO NOTHING RETURNING recipient"
    )


@functools.lru_cache(maxsize=64)
def select_admissions(rows: int) -> str:
    """What the journal knows of ``rows`` recipients: parameters broadcast, then recipients."""
    marks = ", ".join(["?"] * rows)
    return (
        "SELECT recipient, state, run, digest, attempts FROM recipients "
        f"WHERE broadcast = ? AND recipient IN ({marks})"
    )


@functools.lru_cache(maxsize=64)
def mark_read(rows: int) -> str:
    """Mark ``rows`` recipients as read by a run: parameters run, broadcast, then recipients."""
    marks = ", ".join(["?"] * rows)
    return f"UPDATE recipients SET run = ? WHERE broadcast = ? AND recipient IN ({marks})"


@functools.lru_cache(maxsize=64)
def claim(rows: int) -> str:
    """Mark ``rows`` recipients in flight; returns those claimed (all but delivered ones).

    Parameters per row: broadcast, recipient, position, reference_id, digest,
    run, created_at, sent_at, contact_id, addresses. A row the journal does not
    have is created (a task-queue worker may hold a task that was never
    admitted); a delivered row is left alone and not returned, which tells the
    caller not to send it. A claimed row takes the contact being sent to: a
    person with an ``id`` may have other addresses than when the row was made,
    and the row must say where the send went. A delivered row keeps the
    contact it was delivered to. The target's columns are qualified
    (``recipients.state``): PostgreSQL finds a bare name ambiguous beside
    ``excluded``, SQLite accepts both.
    """
    values = ", ".join(["(?, ?, ?, ?, ?, 'in_flight', ?, 1, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO recipients "
        "(broadcast, recipient, position, reference_id, digest, state, run, attempts, "
        f"created_at, sent_at, contact_id, addresses) VALUES {values} "
        "ON CONFLICT (broadcast, recipient) DO UPDATE SET "
        "state = 'in_flight', attempts = recipients.attempts + 1, sent_at = excluded.sent_at, "
        "contact_id = excluded.contact_id, addresses = excluded.addresses "
        "WHERE recipients.state <> 'delivered' RETURNING recipient"
    )


# Undo a claim whose send never started (the run was stopped while it was queued).
RELEASE = (
    "UPDATE recipients SET state = ?, attempts = attempts - 1 "
    "WHERE broadcast = ? AND recipient = ? AND state = 'in_flight'"
)
NOTE_PAUSE = (
    "UPDATE recipients SET error_code = ?, error_message = ? "
    "WHERE broadcast = ? AND recipient = ? AND state = 'in_flight'"
)
RECORD_OUTCOME = (
    "UPDATE recipients SET state = ?, provider = ?, message_id = ?, error_code = ?, "
    "error_message = ?, completed_at = ?, address_kind = ?, address = ? "
    "WHERE broadcast = ? AND recipient = ?"
)

SELECT_BROADCASTS = (
    "SELECT broadcast_id, created_at, updated_at, runs, last_report FROM broadcasts "
    "ORDER BY created_at, key"
)
SELECT_BROADCAST = (
    "SELECT broadcast_id, created_at, updated_at, runs, last_report FROM broadcasts "
    "WHERE broadcast_id = ?"
)
# Rows whose broadcast key names no broadcast: only damage makes them.
COUNT_ORPHANS = (
    "SELECT count(*) FROM recipients WHERE broadcast NOT IN (SELECT key FROM broadcasts)"
)
# What a resume checks in every row of its broadcast before trusting them.
SELECT_CHECKED = "SELECT recipient, reference_id, digest, state FROM recipients WHERE broadcast = ?"
COUNT_STATES = "SELECT state, count(*) FROM recipients WHERE broadcast = ? GROUP BY state"

_ROW_COLUMNS = (
    "recipient, position, reference_id, state, run, attempts, provider, message_id, "
    "error_code, error_message, created_at, sent_at, completed_at"
)
# A version 1 journal, read as it is (read-only), has no contact columns:
# they read as NULL, which is what they were never given.
_ROW_COLUMNS_OF_VERSION = {
    1: _ROW_COLUMNS + ", NULL, NULL, NULL, NULL",
    2: _ROW_COLUMNS + ", " + ", ".join(_CONTACT_COLUMNS),
    3: _ROW_COLUMNS + ", " + ", ".join(_CONTACT_COLUMNS),
}


class RowQueries:
    """The three statements that read rows, written for one schema version."""

    def __init__(self, columns: str) -> None:
        self.select_row = f"SELECT {columns} FROM recipients WHERE broadcast = ? AND recipient = ?"
        # Keyset pagination on the primary key: each page is one short read, and
        # a writer committing between pages is never blocked or confused by it.
        self.page = (
            f"SELECT {columns} FROM recipients WHERE broadcast = ? AND recipient > ? "
            "ORDER BY recipient LIMIT ?"
        )
        self.page_in_state = (
            f"SELECT {columns} FROM recipients WHERE broadcast = ? AND state = ? "
            "AND recipient > ? ORDER BY recipient LIMIT ?"
        )


_ROW_QUERIES = {
    version: RowQueries(columns) for version, columns in _ROW_COLUMNS_OF_VERSION.items()
}


def row_queries(version: int) -> RowQueries:
    """The row-reading statements for a journal of schema ``version`` (1 to 3)."""
    return _ROW_QUERIES[version]

"""A journal as broadcastio wrote it at schema version 1, built from that version's DDL.

Version 1 keyed each row on ``Contact.key`` and stored nothing else of the
person, so a contact with an id was only ``{"id": ...}``. The DDL below is
version 1's, copied here on purpose: it must not follow the current schema,
or the migration tests would test nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import attrs

from broadcastio import Message
from broadcastio.broadcast import reference_id_for
from broadcastio.broadcast.task import message_digest

__all__ = ["V1_COLUMNS", "V1Row", "write_v1_journal"]

V1_SCHEMA = """
BEGIN;
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
    PRIMARY KEY (broadcast, recipient)
) WITHOUT ROWID;
PRAGMA user_version = 1;
COMMIT;
"""

V1_COLUMNS = (
    "broadcast", "recipient", "position", "reference_id", "digest", "state", "run",
    "attempts", "provider", "message_id", "error_code", "error_message", "created_at",
    "sent_at", "completed_at",
)  # fmt: skip

_CREATED = "2026-11-30T08:00:00+00:00"
_COMPLETED = "2026-11-30T08:00:01+00:00"


@attrs.frozen
class V1Row:
    """One recipient row of a version 1 journal: ``recipient`` is the key version 1 stored."""

    recipient: str
    state: str
    provider: str | None = None
    error_code: str | None = None


def write_v1_journal(
    path: Path, broadcast_id: str, rows: Sequence[V1Row], *, text: str = "hi", version: int = 1
) -> None:
    """Write a version 1 journal (WAL mode, as version 1 made it) with one run of ``rows``.

    Each row's reference id and message fingerprint are what version 1
    computed for ``Message(..., text)``, so a resume with that text trusts them.
    ``version`` other than 1 stamps the same tables with another user_version.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(V1_SCHEMA)
        if version != 1:
            connection.execute(f"PRAGMA user_version = {version}")
        connection.execute(
            "INSERT INTO broadcasts (broadcast_id, created_at, updated_at, runs) "
            "VALUES (?, ?, ?, 1)",
            (broadcast_id, _CREATED, _COMPLETED),
        )
        (key,) = connection.execute(
            "SELECT key FROM broadcasts WHERE broadcast_id = ?", (broadcast_id,)
        ).fetchone()
        digest = message_digest(Message("+1", text))
        for position, row in enumerate(rows):
            sent = row.state != "pending"
            connection.execute(
                "INSERT INTO recipients VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    row.recipient,
                    position,
                    reference_id_for(broadcast_id, row.recipient),
                    digest,
                    row.state,
                    1 if sent else 0,
                    row.provider,
                    f"m-{position}" if row.state == "delivered" else None,
                    row.error_code,
                    None if row.error_code is None else "it failed",
                    _CREATED,
                    _CREATED if sent else None,
                    _COMPLETED if sent else None,
                ),
            )
    finally:
        connection.close()

"""Receipts in the journal: what the channel reported after accepting a delivered row's message.

The ``receipts`` table (schema version 3, see ``sql``) has a row per
(broadcast, recipient) with a receipt; a delivered recipient without one has
an *unknown* receipt: its provider reports nothing after a send (email,
webhooks...), or nobody synced yet. Unknown is never read as "delivered to
the device".

Functions rather than ``Journal`` methods: receipts are written by
``broadcastio journal sync`` long after a run, never on a run's send path, and
keeping them apart keeps the run's commit path untouched. They work on a
``Journal`` of any schema version: a read-only version 1 or 2 file has no
receipts table, and every receipt in it is unknown.
"""

from __future__ import annotations

import csv
import datetime as _dt
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from broadcastio.broadcast.journal.backend import JournalStorage
from broadcastio.broadcast.journal.file import utc_now_text
from broadcastio.broadcast.journal.reading import spreadsheet_cell
from broadcastio.broadcast.journal.records import JOURNAL_COLUMNS
from broadcastio.broadcast.states import RecipientState
from broadcastio.records.checks import check_bool
from broadcastio.records.contact import shown_recipient
from broadcastio.records.receipt import Receipt, ReceiptState
from broadcastio.errors import ValidationError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal.store import Journal

__all__ = [
    "RECEIPT_COLUMNS",
    "ReceiptChange",
    "ReceiptCounts",
    "awaiting_receipts",
    "delivered_providers",
    "export_csv_with_receipts",
    "merge_receipt",
    "receipt_counts",
    "record_receipts",
]

logger = logging.getLogger("broadcastio")

RECEIPTS_SINCE_VERSION = 3

RECEIPT_COLUMNS: tuple[str, ...] = ("receipt", "receipt_updated_at", "delivered_at", "read_at")
"""The columns ``export_csv_with_receipts`` adds after ``JOURNAL_COLUMNS``."""

UNKNOWN = "unknown"
"""The receipt of a delivered recipient the journal has no receipt for."""

# States after which nothing more will come: a sync does not ask again.
_FINAL = (ReceiptState.PLAYED.value, ReceiptState.ERROR.value)

# Delivered rows whose receipt may still change (none yet, or not final), by
# recipient (keyset pagination): recipient, provider, message_id, receipt state.
_AWAITING = (
    "SELECT r.recipient, r.provider, r.message_id, c.state FROM recipients AS r "
    "LEFT JOIN receipts AS c ON c.broadcast = r.broadcast AND c.recipient = r.recipient "
    "WHERE r.broadcast = ? AND r.state = 'delivered' AND r.message_id IS NOT NULL "
    "AND r.provider IS NOT NULL AND (c.state IS NULL OR c.state NOT IN (?, ?)) "
    "AND r.recipient > ? ORDER BY r.recipient LIMIT ?"
)
_SELECT_RECEIPT = (
    "SELECT message_id, state, updated_at, delivered_at, read_at FROM receipts "
    "WHERE broadcast = ? AND recipient = ?"
)
_UPSERT = (
    "INSERT INTO receipts (broadcast, recipient, message_id, provider, state, updated_at, "
    "delivered_at, read_at, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (broadcast, recipient) DO UPDATE SET message_id = excluded.message_id, "
    "provider = excluded.provider, state = excluded.state, updated_at = excluded.updated_at, "
    "delivered_at = excluded.delivered_at, read_at = excluded.read_at, "
    "synced_at = excluded.synced_at"
)
_COUNT = (
    "SELECT c.state, count(*) FROM recipients AS r "
    "JOIN receipts AS c ON c.broadcast = r.broadcast AND c.recipient = r.recipient "
    "WHERE r.broadcast = ? AND r.state = 'delivered' GROUP BY c.state"
)
_COUNT_DELIVERED = "SELECT count(*) FROM recipients WHERE broadcast = ? AND state = 'delivered'"
_EXPORT_COLUMNS = (
    "r.recipient, r.position, r.reference_id, r.state, r.run, r.attempts, r.provider, "
    "r.message_id, r.error_code, r.error_message, r.created_at, r.sent_at, r.completed_at"
)
_DELIVERED_PROVIDERS = (
    "SELECT provider, count(*) FROM recipients WHERE broadcast = ? AND state = 'delivered' "
    "AND provider IS NOT NULL GROUP BY provider ORDER BY provider"
)
_PAGE_SIZE = 500


@attrs.frozen
class ReceiptChange:
    """A receipt the journal recorded because it told something new.

    ``recipient`` is the row's key (a plain recipient, or a contact's key);
    ``previous`` the state the journal had (``None``: unknown until now).
    """

    broadcast_id: str
    recipient: str
    provider: str
    receipt: Receipt
    previous: ReceiptState | None


@attrs.frozen
class ReceiptCounts:
    """How far a broadcast's delivered messages got, as far as the journal knows.

    ``sent`` counts the recipients whose message a provider accepted (journal
    state ``delivered``). Of those, ``device`` reached the recipient's device
    (read and played included), ``read`` were read (played included),
    ``error`` were reported failed by the channel, ``server`` and ``pending``
    are still on their way, and ``unknown`` have no receipt: their provider
    reports none, or no sync has asked yet.
    """

    sent: int = 0
    pending: int = 0
    server: int = 0
    device: int = 0
    read: int = 0
    error: int = 0
    unknown: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counts by name, for JSON output."""
        return attrs.asdict(self)


def _has_receipts(file: JournalStorage) -> bool:
    return file.schema_version >= RECEIPTS_SINCE_VERSION


def receipt_counts(journal: Journal, broadcast_id: str) -> ReceiptCounts:
    """``ReceiptCounts`` of ``broadcast_id``; an unknown id raises ``ValidationError``."""
    file = journal._file
    with file.decoding(broadcast_id), file.locked(broadcast_id) as connection:
        key = file.key_locked(broadcast_id, create=False)
        (sent,) = connection.execute(_COUNT_DELIVERED, (key,)).fetchone()
        found = connection.execute(_COUNT, (key,)).fetchall() if _has_receipts(file) else []
    by_state = {ReceiptState(state): count for state, count in found}
    device = sum(count for state, count in by_state.items() if state.at_least(ReceiptState.DEVICE))
    read = sum(count for state, count in by_state.items() if state.at_least(ReceiptState.READ))
    return ReceiptCounts(
        sent=sent,
        pending=by_state.get(ReceiptState.PENDING, 0),
        server=by_state.get(ReceiptState.SERVER, 0),
        device=device,
        read=read,
        error=by_state.get(ReceiptState.ERROR, 0),
        unknown=sent - sum(by_state.values()),
    )


def delivered_providers(journal: Journal, broadcast_id: str) -> dict[str, int]:
    """The provider instance names that delivered rows of ``broadcast_id``, with their counts."""
    file = journal._file
    with file.locked(broadcast_id) as connection:
        key = file.key_locked(broadcast_id, create=False)
        return dict(connection.execute(_DELIVERED_PROVIDERS, (key,)).fetchall())


def awaiting_receipts(
    journal: Journal, broadcast_id: str
) -> Iterator[list[tuple[str, str, str, ReceiptState | None]]]:
    """Pages of delivered rows whose receipt may still change: (recipient, provider, id, state).

    Rows whose receipt is final (``played``, ``error``) are left out. Lazy, a
    page per lock acquisition, like ``Journal.rows``.
    """
    file = journal._file
    with file.locked(broadcast_id):
        key = file.key_locked(broadcast_id, create=False)
    _require_receipts(file)
    after = ""
    while True:
        with file.decoding(broadcast_id), file.locked(broadcast_id) as connection:
            found = connection.execute(_AWAITING, (key, *_FINAL, after, _PAGE_SIZE)).fetchall()
            page = [
                (recipient, provider, message_id, None if state is None else ReceiptState(state))
                for recipient, provider, message_id, state in found
            ]
        if page:
            yield page
        if len(page) < _PAGE_SIZE:
            return
        after = page[-1][0]


_Stored = tuple[ReceiptState, _dt.datetime | None, _dt.datetime | None, _dt.datetime | None]


def merge_receipt(stored: _Stored | None, new: Receipt) -> Receipt | None:
    """What the journal should hold after hearing ``new``; ``None`` if it tells nothing new.

    A receipt never goes back: WhatsApp's ticks only move forward, so an
    older answer (a bridge that lost its store, acks seen out of order) is
    ignored rather than turning "read" into "sent". ``error`` replaces only
    ``pending`` and ``server`` (a message on the device was delivered,
    whatever fails later), and gives way only to ``device`` or further (it
    arrived after all): the bridge's own rule. Known times are kept when the
    new answer does not repeat them.
    """
    if stored is None:
        return new
    state, updated_at, delivered_at, read_at = stored
    if new.state is ReceiptState.ERROR:
        moved = state is not ReceiptState.ERROR and not state.at_least(ReceiptState.DEVICE)
    elif state is ReceiptState.ERROR:
        moved = new.state.at_least(ReceiptState.DEVICE)  # it arrived after all
    else:
        moved = new.state.rank > state.rank
    merged = Receipt(
        message_id=new.message_id,
        state=new.state if moved else state,
        updated_at=new.updated_at if moved else updated_at,
        delivered_at=delivered_at or new.delivered_at,
        read_at=read_at or new.read_at,
    )
    if (merged.state, merged.updated_at, merged.delivered_at, merged.read_at) == stored:
        return None
    return merged


def record_receipts(
    journal: Journal, broadcast_id: str, found: Sequence[tuple[str, str, Receipt]]
) -> list[ReceiptChange]:
    """Record ``(recipient, provider, receipt)`` triples in one transaction; what changed.

    Each receipt is merged with the stored one (``merge_receipt``); only a
    change is written and returned. A receipt belongs to a message a provider
    accepted, so one for a recipient the broadcast has not (or no longer)
    delivered is skipped, logged at debug, and the others are recorded: a
    sync reads a page of delivered rows, asks the provider, then records, and
    a row that changed in between (a concurrent resume, say) must not cost
    the rest of the page its receipts. An unknown broadcast id is still a
    ``ValidationError``.
    """
    if not found:
        return []
    file = journal._file
    _require_receipts(file)
    now = utc_now_text()
    changes: list[ReceiptChange] = []
    with file.decoding(broadcast_id), file.locked(broadcast_id):
        key = file.key_locked(broadcast_id, create=False)
        with file.transaction_locked() as connection:
            for recipient, provider, receipt in found:
                delivered = connection.execute(
                    "SELECT state FROM recipients WHERE broadcast = ? AND recipient = ?",
                    (key, recipient),
                ).fetchone()
                if delivered is None or delivered[0] != RecipientState.DELIVERED.value:
                    logger.debug(
                        "broadcast %s: receipt for %s skipped: the journal has no delivered "
                        "row for it (%s)",
                        broadcast_id,
                        shown_recipient(recipient),
                        "no row" if delivered is None else f"now {delivered[0]}",
                    )
                    continue
                row = connection.execute(_SELECT_RECEIPT, (key, recipient)).fetchone()
                stored: _Stored | None = None
                if row is not None and row[0] == receipt.message_id:
                    stored = (ReceiptState(row[1]), _time(row[2]), _time(row[3]), _time(row[4]))
                merged = merge_receipt(stored, receipt)
                if merged is None:
                    continue
                connection.execute(
                    _UPSERT,
                    (
                        key,
                        recipient,
                        merged.message_id,
                        provider,
                        merged.state.value,
                        _text(merged.updated_at),
                        _text(merged.delivered_at),
                        _text(merged.read_at),
                        now,
                    ),
                )
                previous = None if stored is None else stored[0]
                changes.append(
                    ReceiptChange(
                        broadcast_id=broadcast_id,
                        recipient=recipient,
                        provider=provider,
                        receipt=merged,
                        previous=previous,
                    )
                )
    return changes


def export_csv_with_receipts(
    journal: Journal,
    broadcast_id: str,
    file: TextIO,
    *,
    state: RecipientState | str | None = None,
    spreadsheet_safe: bool = True,
) -> int:
    """``Journal.export_csv`` with ``RECEIPT_COLUMNS`` appended; how many rows.

    ``receipt`` is the receipt state for a delivered row (``unknown`` when the
    journal has none), empty for the others (no message was accepted); the
    three times are ISO-8601 UTC or empty.
    """
    check_bool("spreadsheet_safe", spreadsheet_safe)
    journal_file = journal._file
    with journal_file.locked(broadcast_id):
        key = journal_file.key_locked(broadcast_id, create=False)
    wanted = None
    if state is not None:
        try:
            wanted = RecipientState(state).value
        except ValueError:
            names = ", ".join(item.value for item in RecipientState)
            raise ValidationError(f"state must be one of {names}; got {state!r}") from None
    contact = (
        "r.contact_id, r.addresses, r.address_kind, r.address"
        if journal_file.schema_version >= 2
        else "NULL, NULL, NULL, NULL"
    )
    receipt = (
        "c.state, c.updated_at, c.delivered_at, c.read_at"
        if _has_receipts(journal_file)
        else "NULL, NULL, NULL, NULL"
    )
    join = (
        "LEFT JOIN receipts AS c ON c.broadcast = r.broadcast AND c.recipient = r.recipient "
        if _has_receipts(journal_file)
        else ""
    )
    query = (
        f"SELECT {_EXPORT_COLUMNS}, {contact}, {receipt} FROM recipients AS r {join}"
        # CAST: PostgreSQL must know a parameter's type, and NULL alone has none.
        "WHERE r.broadcast = ? AND (CAST(? AS TEXT) IS NULL OR r.state = ?) "
        "AND r.recipient > ? ORDER BY r.recipient LIMIT ?"
    )
    writer = csv.writer(file)
    writer.writerow((*JOURNAL_COLUMNS, *RECEIPT_COLUMNS))
    written, after = 0, ""
    while True:
        with journal_file.locked(broadcast_id) as connection:
            page = connection.execute(query, (key, wanted, wanted, after, _PAGE_SIZE)).fetchall()
        for values in page:
            cells: list[Any] = [broadcast_id, *values]
            if values[3] == RecipientState.DELIVERED.value and values[-4] is None:
                cells[-4] = UNKNOWN
            if spreadsheet_safe:
                cells = [spreadsheet_cell(cell) for cell in cells]
            writer.writerow(cells)
        written += len(page)
        if len(page) < _PAGE_SIZE:
            return written
        after = page[-1][0]


def _require_receipts(file: JournalStorage) -> None:
    if not _has_receipts(file):
        raise ValidationError(
            f"journal {file.location} has schema version {file.schema_version}, without receipts; "
            "open it for writing (not read-only) to upgrade it"
        )


def _time(text: str | None) -> _dt.datetime | None:
    return None if text is None else _dt.datetime.fromisoformat(text)


def _text(value: _dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(_dt.timezone.utc).isoformat()

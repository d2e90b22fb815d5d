"""The records the journal hands out: a recipient's row, a broadcast's entry, an admission."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, ClassVar

import attrs

from broadcastio.broadcast.report import BroadcastReport
from broadcastio.broadcast.states import RecipientState
from broadcastio.records.checks import parse_error_code
from broadcastio.records.contact import Contact
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.serialization import JsonRecord

__all__ = [
    "Admission",
    "BroadcastInfo",
    "JOURNAL_COLUMNS",
    "JournalRow",
    "info_from_values",
    "row_from_values",
]


@attrs.frozen(unsafe_hash=False)  # holds a dict of addresses
class JournalRow(JsonRecord):
    """One recipient of one broadcast, as the journal has it.

    ``recipient`` is the text the row is keyed on: a plain recipient as it is,
    a contact's ``key``. ``position`` is the recipient's index in the input of
    the run that first read it. ``attempts`` counts sends (calls of the provider
    chain, each of which may make several provider attempts per its retry
    policy) across all runs. ``provider`` is the provider that delivered, or for
    a failure the last one tried (the one that produced ``error_code``).
    ``sent_at`` is when the row last went ``in_flight``, ``completed_at`` when
    its last outcome was recorded.

    Who the row is: for a contact, ``contact_id`` and ``addresses`` (kind to
    address) as the contact was last sent to (or first read, if never sent);
    ``contact`` rebuilds the ``Contact``. Both are ``None`` for a plain
    recipient, and for rows journaled before schema version 2 (whose
    ``recipient`` is all the journal ever had). ``address_kind`` and
    ``address`` are what ``provider`` was handed: the kind it declares and the
    person's address of that kind (a plain recipient is its own address, of
    whatever kind); ``None`` when no provider was tried, the provider takes
    no address of a kind (a channel webhook gets the key), or the row predates
    version 2.
    """

    broadcast_id: str
    recipient: str
    position: int
    reference_id: str
    state: RecipientState
    run: int
    attempts: int
    provider: str | None
    message_id: str | None
    error_code: ErrorCode | None
    error_message: str | None
    created_at: _dt.datetime
    sent_at: _dt.datetime | None
    completed_at: _dt.datetime | None
    contact_id: str | None = None
    addresses: dict[str, str] | None = None
    address_kind: str | None = None
    address: str | None = None

    @property
    def contact(self) -> Contact | None:
        """The ``Contact`` this row was sent to, or ``None`` (a plain recipient, an old row)."""
        if self.addresses is None:
            return None
        return Contact(self.addresses, self.contact_id)


# The CSV export's header, in JournalRow's field order (one name, one meaning).
JOURNAL_COLUMNS: tuple[str, ...] = tuple(field.name for field in attrs.fields(JournalRow))


@attrs.frozen(unsafe_hash=False)  # holds a report, which holds dicts
class BroadcastInfo(JsonRecord):
    """A broadcast the journal knows: when it started, how many runs, the last run's report.

    ``last_report`` is ``None`` until a run has finished (or been interrupted)
    cleanly; a run killed outright leaves the previous one in place, so
    ``last_report.run < runs`` (or no report at all) means the latest run did
    not finish: it crashed, or it is still going.
    """

    broadcast_id: str
    created_at: _dt.datetime
    updated_at: _dt.datetime
    runs: int
    last_report: BroadcastReport | None = None


@attrs.frozen(kw_only=True)
class Admission:
    """What the journal knew of a recipient when a run read it from the input.

    ``previous`` is the journal state before this run (``None``: a new
    recipient, now recorded as pending). ``duplicate`` means this run had already
    read the same recipient. ``attempts`` counts earlier sends.

    The two admissions of a recipient nobody has sent to yet are the same for
    every row, so they exist once, as ``Admission.NEW`` and
    ``Admission.DUPLICATE_OF_NEW``; both the journal and a run without one
    hand out these objects rather than building equal copies per row.
    """

    NEW: ClassVar[Admission]
    """A recipient read for the first time: not journaled before, not sent."""
    DUPLICATE_OF_NEW: ClassVar[Admission]
    """A recipient this run has already read, and that was new when it did."""

    previous: RecipientState | None
    duplicate: bool = False
    attempts: int = 0


Admission.NEW = Admission(previous=None)
Admission.DUPLICATE_OF_NEW = Admission(previous=None, duplicate=True)


def _time(text: str | None) -> _dt.datetime | None:
    return None if text is None else _dt.datetime.fromisoformat(text)


def row_from_values(broadcast_id: str, values: tuple[Any, ...]) -> JournalRow:
    """A ``JournalRow`` from the columns of ``sql.row_queries(version)``.

    ``addresses`` is stored as a JSON object: one that does not read back as
    kind-to-address text was changed on disk (``ValueError``, which the
    journal reports as damage).
    """
    recipient, position, reference_id, state, run, attempts, provider, message_id = values[:8]
    error_code, error_message, created_at, sent_at, completed_at = values[8:13]
    contact_id, addresses, address_kind, address = values[13:]
    return JournalRow(
        broadcast_id=broadcast_id,
        recipient=recipient,
        position=position,
        reference_id=reference_id,
        state=RecipientState(state),
        run=run,
        attempts=attempts,
        provider=provider,
        message_id=message_id,
        error_code=None if error_code is None else parse_error_code(error_code),
        error_message=error_message,
        created_at=_dt.datetime.fromisoformat(created_at),
        sent_at=_time(sent_at),
        completed_at=_time(completed_at),
        contact_id=contact_id,
        addresses=None if addresses is None else _addresses(addresses),
        address_kind=address_kind,
        address=address,
    )


def _addresses(text: str) -> dict[str, str]:
    found = json.loads(text)
    if not isinstance(found, dict) or not all(
        isinstance(kind, str) and isinstance(address, str) for kind, address in found.items()
    ):
        raise ValueError(f"addresses {text!r} are not a JSON object of kind to address")
    return found


def info_from_values(
    broadcast_id: str, created_at: str, updated_at: str, runs: int, last_report: str | None
) -> BroadcastInfo:
    """A ``BroadcastInfo`` from the columns of ``sql.SELECT_BROADCAST(S)``."""
    report = None if last_report is None else BroadcastReport.from_dict(json.loads(last_report))
    return BroadcastInfo(
        broadcast_id=broadcast_id,
        created_at=_dt.datetime.fromisoformat(created_at),
        updated_at=_dt.datetime.fromisoformat(updated_at),
        runs=runs,
        last_report=report,
    )

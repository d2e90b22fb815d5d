"""Admission: what a run does with each input row before anything is sent.

A row is checked (it must be a ``Message``), given its derived reference id,
and then, a batch of rows at a time, either becomes a ``RecipientTask`` to send
(already committed as ``in_flight``) or an outcome of not sending it: a
duplicate of an earlier row, a recipient an earlier run delivered, or one an
earlier run failed when ``retry_failed`` is off.

With a journal, the journal deduplicates (its primary key is the recipient),
so memory does not grow with the input. Without one there is nothing to
resume and a set of the recipients seen so far does the job, at roughly 100
bytes per recipient.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from broadcastio.broadcast.journal.records import Admission
from broadcastio.broadcast.states import RecipientState, RecipientStatus
from broadcastio.broadcast.task import (
    RecipientOutcome,
    RecipientTask,
    message_digest,
    reference_id_for,
)
from broadcastio.records.contact import recipient_key
from broadcastio.records.message import Message
from broadcastio.errors import ValidationError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal

__all__ = ["Admitter", "check_message", "prepare_message", "skip_status", "with_reference_id"]


def with_reference_id(message: Message, reference_id: str) -> Message:
    """``message`` with ``metadata.reference_id`` replaced (the same object if it already is)."""
    if message.metadata.reference_id == reference_id:
        return message
    return attrs.evolve(message, metadata=attrs.evolve(message.metadata, reference_id=reference_id))


def prepare_message(broadcast_id: str, message: Message) -> Message:
    """``message`` as a run of ``broadcast_id`` sends and journals it: its reference id derived.

    Everything a run computes from a row before the journal stores it is
    computed here: the derived reference id (``reference_id_for``, the
    provider's idempotency key), the content fingerprint (``message_digest``),
    and the UTF-8 encoding SQLite applies to the text it stores. ``Admitter``
    prepares every row through this function, and the command line calls it for
    every row before the first send, so a row that would fail mid-broadcast
    (and again on every resume) fails that check instead, and the two cannot
    drift apart. Raises ``ValidationError`` saying what is wrong.
    """
    try:
        key = recipient_key(message.recipient)
        reference_id = reference_id_for(broadcast_id, key)
        prepared = with_reference_id(message, reference_id)
        message_digest(prepared)
        for text in (broadcast_id, key, reference_id):
            text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"broadcast {broadcast_id!r}: the message for {str(message.recipient)!r} cannot be "
            f"journaled: {exc.reason} (character {exc.start + 1} is not encodable as UTF-8)",
            details={"broadcast_id": broadcast_id, "recipient": recipient_key(message.recipient)},
        ) from None
    return prepared


def skip_status(admission: Admission, retry_failed: bool) -> RecipientStatus | None:
    """Why a recipient is not sent in this run, or ``None`` to send it.

    Pending and in-flight rows are always sent: pending ones never were, and an
    in-flight one was cut short by a crash, so it goes out again under its
    original reference id and a provider that deduplicates (the WhatsApp bridge)
    replays its first outcome instead of sending twice. Failed and ambiguous rows
    are alike on purpose: an ambiguous one may have been delivered, which only a
    deduplicating provider makes safe to resend, so both wait for an explicit
    ``retry_failed=True``.
    """
    if admission.duplicate:
        return RecipientStatus.DUPLICATE
    previous = admission.previous
    if previous in (None, RecipientState.PENDING, RecipientState.IN_FLIGHT):
        return None
    if previous is RecipientState.DELIVERED:
        return RecipientStatus.ALREADY_DELIVERED
    return None if retry_failed else RecipientStatus.NOT_RETRIED


def check_message(index: int, item: Any) -> Message:
    """``item`` if it is a ``Message``; otherwise a ``ValidationError`` naming its index."""
    if not isinstance(item, Message):
        raise ValidationError(
            f"messages[{index}] is a {type(item).__name__}, not a Message",
            details={"index": index},
        )
    return item


class Admitter:
    """Admits the rows of one run of one broadcast, a batch at a time, in input order."""

    __slots__ = ("_broadcast_id", "_journal", "_retry_failed", "_run", "_seen")

    def __init__(
        self, broadcast_id: str, run: int, journal: Journal | None, retry_failed: bool
    ) -> None:
        self._broadcast_id = broadcast_id
        self._run = run
        self._journal = journal
        self._retry_failed = retry_failed
        self._seen: set[str] = set()

    def __call__(
        self, rows: Sequence[tuple[int, Message]]
    ) -> list[RecipientTask | RecipientOutcome]:
        """Each input row ``(index, message)`` as a task to send, or the outcome of skipping it."""
        broadcast_id, run, journal = self._broadcast_id, self._run, self._journal
        prepared = [(index, prepare_message(broadcast_id, message)) for index, message in rows]
        if journal is not None:
            admissions = journal.admit(broadcast_id, run, prepared)
        else:
            remember = self._remember
            admissions = [remember(recipient_key(message.recipient)) for _, message in prepared]
        admitted: list[RecipientTask | RecipientOutcome] = []
        retry_failed = self._retry_failed
        for (index, message), admission in zip(prepared, admissions, strict=True):
            status = skip_status(admission, retry_failed)
            if status is None:
                admitted.append(
                    RecipientTask(
                        broadcast_id=broadcast_id,
                        run=run,
                        index=index,
                        message=message,
                        previous_state=admission.previous,
                        attempts=admission.attempts,
                    )
                )
            else:
                admitted.append(_skipped(broadcast_id, index, message, status, admission.attempts))
        if journal is not None:
            self._claim(journal, admitted)
        return admitted

    @staticmethod
    def _claim(journal: Journal, admitted: list[RecipientTask | RecipientOutcome]) -> None:
        """Commit the tasks as in flight before they reach a sending thread, in one statement.

        One journal round trip per batch instead of one per recipient from the
        sending threads. A task the journal refuses (its row turned ``delivered``
        meanwhile, written by another process) becomes an ``ALREADY_DELIVERED``
        outcome in place.
        """
        pending = [(n, item) for n, item in enumerate(admitted) if isinstance(item, RecipientTask)]
        claimed = journal.mark_in_flight([task for _, task in pending])
        for (position, task), ok in zip(pending, claimed, strict=True):
            if not ok:
                admitted[position] = RecipientOutcome.unsent(
                    task, RecipientStatus.ALREADY_DELIVERED
                )

    def _remember(self, recipient: str) -> Admission:
        if recipient in self._seen:
            return Admission.DUPLICATE_OF_NEW
        self._seen.add(recipient)
        return Admission.NEW


def _skipped(
    broadcast_id: str, index: int, message: Message, status: RecipientStatus, attempts: int
) -> RecipientOutcome:
    return RecipientOutcome(
        broadcast_id=broadcast_id,
        index=index,
        recipient=recipient_key(message.recipient),
        reference_id=message.metadata.reference_id,
        status=status,
        attempts=attempts,
        contact=None if isinstance(message.recipient, str) else message.recipient,
    )

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

from broadcastio.broadcast.journal.records import Admission
from broadcastio.broadcast.states import RecipientState, RecipientStatus
from broadcastio.broadcast.task import (
    PreparedRow,
    RecipientOutcome,
    RecipientTask,
    claimed_task,
    message_digest,
    reference_id_for,
)
from broadcastio.records.contact import recipient_key
from broadcastio.records.message import (
    Message,
    MessageMetadata,
    with_checked_reference_id,
    with_reference_id,
)
from broadcastio.errors import ValidationError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal

__all__ = [
    "Admitter",
    "UNPREPARED_METADATA",
    "check_message",
    "prepare_message",
    "prepare_row",
    "skip_status",
    "with_reference_id",
]


UNPREPARED_METADATA = MessageMetadata(reference_id="derived-when-prepared")
"""Metadata for a message built only to go through ``prepare_message``.

Its reference id is replaced by the derived one, so a reader that builds a
message per input row (the command line) gives it this instead of the
default, which would make a ``uuid4`` per row only for it to be replaced.
"""


def prepare_message(broadcast_id: str, message: Message) -> Message:
    """``message`` as a run of ``broadcast_id`` sends and journals it: its reference id derived.

    Everything a run computes from a row before the journal stores it is
    computed here: the derived reference id (``reference_id_for``, the
    provider's idempotency key), the content fingerprint (``message_digest``),
    and the UTF-8 encoding SQLite applies to the text it stores. ``Admitter``
    prepares every row of a journaled run through this function (``prepare_row``;
    without a journal it derives only the key and the reference id, the same
    way), and the command line calls it for every row before the first send,
    so a row that would fail mid-broadcast (and again on every resume) fails
    that check instead, and the two cannot drift apart. Raises
    ``ValidationError`` saying what is wrong.
    """
    return prepare_row(broadcast_id, 0, message).message


def prepare_row(broadcast_id: str, index: int, message: Message) -> PreparedRow:
    """``prepare_message`` for input row ``index``, keeping what it derived for the journal."""
    try:
        recipient = message.recipient
        key = recipient if type(recipient) is str else recipient_key(recipient)
        reference_id = reference_id_for(broadcast_id, key)
        # Hex digits: every check of the field passes (with_reference_id's first step).
        prepared = with_checked_reference_id(message, reference_id)
        digest = message_digest(prepared)
        # The reference id is hex; the key and the id are checked on the way in
        # (every str a Message or a run accepts is UTF-8), unless they are not ASCII.
        if not (key.isascii() and broadcast_id.isascii()):
            key.encode("utf-8")
            broadcast_id.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _unencodable(broadcast_id, message, exc) from None
    # PreparedRow's own __new__ is a Python function; this is the same tuple.
    return _new_tuple(PreparedRow, (index, prepared, key, reference_id, digest))


def _unencodable(broadcast_id: str, message: Message, exc: UnicodeEncodeError) -> ValidationError:
    return ValidationError(
        f"broadcast {broadcast_id!r}: the message for {str(message.recipient)!r} cannot be "
        f"journaled: {exc.reason} (character {exc.start + 1} is not encodable as UTF-8)",
        details={"broadcast_id": broadcast_id, "recipient": recipient_key(message.recipient)},
    )


_new_tuple = tuple.__new__


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
    ) -> tuple[list[RecipientTask], list[RecipientOutcome]]:
        """The input rows ``(index, message)`` to send, as tasks; and the outcomes of the rest.

        Each list keeps input order. With a journal, the tasks are committed
        ``in_flight`` before this returns (``Journal.admit_and_claim``: the
        batch's admission, then one claim statement). A row the journal
        refuses to claim (it turned ``delivered`` meanwhile, written by
        another process) becomes an ``ALREADY_DELIVERED`` outcome.
        """
        broadcast_id, run, journal = self._broadcast_id, self._run, self._journal
        tasks: list[RecipientTask] = []
        skipped: list[RecipientOutcome] = []
        if journal is None:
            # Every row new but a repeated recipient: nothing else to look up, and
            # nothing to store, so only what a send needs is derived (prepare_row's
            # key and reference id, not the content's digest for the journal).
            seen = self._seen
            for index, message in rows:
                recipient = message.recipient
                try:
                    key = recipient if type(recipient) is str else recipient_key(recipient)
                    reference_id = reference_id_for(broadcast_id, key)
                    derived = with_checked_reference_id(message, reference_id)
                except UnicodeEncodeError as exc:
                    raise _unencodable(broadcast_id, message, exc) from None
                if key in seen:
                    skipped.append(
                        _skipped(broadcast_id, index, derived, RecipientStatus.DUPLICATE, 0)
                    )
                else:
                    seen.add(key)
                    tasks.append(claimed_task(broadcast_id, run, index, derived, None, 0))
            return tasks, skipped
        prepared = [prepare_row(broadcast_id, index, message) for index, message in rows]
        admissions, claimed = journal.admit_and_claim(
            broadcast_id, run, prepared, self._should_send
        )
        retry_failed = self._retry_failed
        new = Admission.NEW
        for number, (row, admission) in enumerate(zip(prepared, admissions, strict=True)):
            status = None if admission is new else skip_status(admission, retry_failed)
            if status is None:
                task = claimed_task(
                    broadcast_id,
                    run,
                    row.position,
                    row.message,
                    admission.previous,  # previous_state
                    admission.attempts,
                )
                if claimed[number]:
                    tasks.append(task)
                else:
                    skipped.append(RecipientOutcome.unsent(task, RecipientStatus.ALREADY_DELIVERED))
            else:
                skipped.append(
                    _skipped(broadcast_id, row.position, row.message, status, admission.attempts)
                )
        return tasks, skipped

    def _should_send(self, admission: Admission) -> bool:
        """Whether a row so admitted is sent (and so claimed) in this run."""
        return skip_status(admission, self._retry_failed) is None


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

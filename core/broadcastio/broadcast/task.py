"""The unit of work of a broadcast: one recipient's send and its journal transitions.

``deliver_recipient`` is a plain function of serializable inputs (a
``RecipientTask`` round-trips through ``to_dict`` / ``from_dict``), so the
in-process thread pool of ``broadcast`` is only one way to run it: a task-queue
worker can receive the task's dict, rebuild it and call the same function
against the same journal file. ``broadcast`` itself commits the ``in_flight``
transitions a batch at a time and runs the second half, ``send_recipient``, in
its threads: fewer journal round trips from the sending threads, which is where
a journaled broadcast spends its time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import attrs

from broadcastio.broadcast.pause import wait_out_pauses
from broadcastio.broadcast.states import (
    RecipientState,
    RecipientStatus,
    recorded_provider,
    state_of,
)
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.contact import Contact, recipient_key
from broadcastio.records.message import Message
from broadcastio.records.result import DeliveryResult
from broadcastio.records.serialization import JsonRecord
from broadcastio.records.trusted import trusted_builder
from broadcastio.errors import BroadcastioError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = [
    "PreparedRow",
    "RecipientOutcome",
    "RecipientTask",
    "STATE_OF_SENT_STATUS",
    "claimed_task",
    "deliver_recipient",
    "message_digest",
    "provider_address_kind",
    "reference_id_for",
    "send_recipient",
    "state_of_outcome",
]

logger = logging.getLogger("broadcastio")


def reference_id_for(broadcast_id: str, recipient: str) -> str:
    """The ``metadata.reference_id`` of ``recipient``'s message in broadcast ``broadcast_id``.

    Derived, never random: every retry, every resume and every worker computes the
    same value, so a provider that keys idempotency on it (the WhatsApp bridge's
    ``Idempotency-Key``) recognises a resend after a crash as the same message.
    The formula is part of the journal's contract; changing it would make every
    resume of an existing broadcast send under new keys.

    It is called once per row with the same ``broadcast_id``, so the hash of
    ``broadcast_id`` and the separator is kept (the last one, in one tuple:
    safe between threads) and copied for each recipient: the same digest as
    hashing the whole text, at half the cost.
    """
    global _last_prefix
    last_id, prefix = _last_prefix
    if prefix is None or last_id != broadcast_id:
        prefix = hashlib.blake2b(
            f"{broadcast_id}\x00".encode(), digest_size=16, person=b"bio-broadcast"
        )
        _last_prefix = (broadcast_id, prefix)
    # UTF-8 of the two parts is UTF-8 of the whole text, and fails where it would.
    digest = prefix.copy()
    digest.update(recipient.encode())
    return digest.hexdigest()


# The broadcast id last derived from and the hash of it and the separator;
# never updated once made, only copied.
_last_prefix: tuple[str, hashlib.blake2b | None] = ("", None)


def message_digest(message: Message) -> str:
    """A short fingerprint of what a recipient would see: text and attachment identity.

    The journal keeps it per recipient so a resume that hands in *different*
    content under the same broadcast id is caught (the provider would otherwise
    map it onto the old idempotency key). Attachments count by filename, MIME
    type and path (or size, for in-memory data) rather than by content: hashing a
    large attachment once per recipient would cost more than the send.
    """
    global _last_text_digest
    attachment = message.attachment
    if attachment is None:
        # A broadcast often sends one text to everyone: the last text's digest is kept.
        last_content, last_digest = _last_text_digest
        if last_digest and message.content == last_content:
            return last_digest
        attachment_part = "-"
    else:
        where = (
            f"path:{attachment.path}"
            if attachment.path is not None
            else f"size:{len(attachment.data or b'')}"
        )
        attachment_part = f"{attachment.filename}\x00{attachment.mime_type}\x00{where}"
    content = "-" if message.content is None else f"+{message.content}"
    # ``surrogatepass``: the same bytes as strict UTF-8 for every encodable text
    # (``Message`` only holds such text), and still a fingerprint for an
    # attachment whose file name is not UTF-8 (it arrives with escaped bytes).
    text = f"{content}\x00{attachment_part}".encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(text, digest_size=12).hexdigest()
    if attachment is None:
        _last_text_digest = (message.content, digest)  # one tuple: safe between threads
    return digest


# The content of the last attachment-less message digested, and its digest.
_last_text_digest: tuple[str | None, str] = (None, "")


class PreparedRow(NamedTuple):
    """An input row with what the journal stores of it, computed once (``prepare_row``).

    ``position`` is the row's index in the input; ``message`` already
    carries ``reference_id``; ``recipient`` is its
    ``recipient_key`` and ``digest`` its ``message_digest``. Admission hands
    these to the journal instead of the bare message, so nothing is derived
    twice per row. A plain tuple: it lives only for the batch being admitted.
    """

    position: int
    message: Message
    recipient: str
    reference_id: str
    digest: str


@attrs.frozen(unsafe_hash=False)  # holds a Message, which holds dicts
class RecipientTask(JsonRecord):
    """One recipient's share of a broadcast, ready to send.

    ``message`` already carries the derived ``reference_id``. ``index`` is the
    row's position in the input (0-based), ``run`` the run of the broadcast that
    created the task (1 for the first, 2 for the first resume…).
    ``previous_state`` is what the journal said before this run (``None`` for a
    recipient it had never seen) and ``attempts`` how many sends were made for
    this recipient before this one.
    """

    broadcast_id: str
    run: int
    index: int
    message: Message
    previous_state: RecipientState | None = None
    attempts: int = 0


claimed_task: Callable[
    [str, int, int, Message, RecipientState | None, int], RecipientTask
] = trusted_builder(RecipientTask)
"""``RecipientTask(...)`` by position, without attrs' ``__init__``: one per row a run sends.

Admission builds it from values it made or the journal gave back; the class
has no converters or validators (a test keeps it so), so this builds exactly
what the constructor would, at about a third of the cost."""


@attrs.frozen(unsafe_hash=False)  # holds a DeliveryResult, which holds dicts
class RecipientOutcome(JsonRecord):
    """What a broadcast did with one row of its input; ``iter_broadcast`` yields these.

    ``result`` is the orchestrator's ``DeliveryResult`` when the message was sent
    in this run, and ``None`` when it was skipped (see ``status``). ``attempts``
    counts sends of this recipient across all runs, this one included.

    ``recipient`` is the text that identifies the recipient in the journal: a
    plain recipient as it is, a contact's ``key``. For a contact, ``contact``
    holds the whole record (its addresses and id), and ``result.provider``
    says which channel delivered.
    """

    broadcast_id: str
    index: int
    recipient: str
    reference_id: str
    status: RecipientStatus
    result: DeliveryResult | None = None
    attempts: int = 0
    contact: Contact | None = None

    @property
    def sent(self) -> bool:
        """Whether this run handed the message to the provider chain."""
        return self.result is not None

    @classmethod
    def unsent(cls, task: RecipientTask, status: RecipientStatus) -> RecipientOutcome:
        """The outcome of not sending ``task``, for the reason ``status`` gives."""
        message = task.message
        return cls(
            broadcast_id=task.broadcast_id,
            index=task.index,
            recipient=recipient_key(message.recipient),
            reference_id=message.metadata.reference_id,
            status=status,
            attempts=task.attempts,
            contact=_contact_of(message),
        )


_sent_outcome: Callable[
    [str, int, str, str, RecipientStatus, DeliveryResult | None, int, Contact | None],
    RecipientOutcome,
] = trusted_builder(RecipientOutcome)
"""``RecipientOutcome(...)`` by position, without attrs' ``__init__``: one per sent row.

The class has no converters or validators (a test keeps it so), so this builds
exactly what the constructor would, at about a third of the cost."""


_STATUS_OF_STATE = {
    RecipientState.DELIVERED: RecipientStatus.DELIVERED,
    RecipientState.FAILED: RecipientStatus.FAILED,
    RecipientState.AMBIGUOUS: RecipientStatus.AMBIGUOUS,
}
STATE_OF_SENT_STATUS = {status: state for state, status in _STATUS_OF_STATE.items()}
"""The journal state each status of a sent row stands for (``state_of_outcome``)."""


def state_of_outcome(outcome: RecipientOutcome) -> RecipientState:
    """The journal state a sent ``outcome`` leaves its row in (``delivered``, ``failed``…)."""
    return STATE_OF_SENT_STATUS[outcome.status]


def deliver_recipient(
    orchestrator: Orchestrator, task: RecipientTask, journal: Journal | None = None
) -> RecipientOutcome:
    """Send ``task.message`` through ``orchestrator``, journaling each transition.

    This is the whole unit of work, for a task-queue worker: with a journal, the
    row goes ``in_flight`` (committed) before the provider chain is called, then
    ``send_recipient`` sends and commits the outcome. A row the journal already
    has as ``delivered`` is not sent again (a task queue may deliver a task
    twice) and comes back as ``ALREADY_DELIVERED``.
    """
    if journal is not None and not journal.mark_in_flight([task])[0]:
        return RecipientOutcome.unsent(task, RecipientStatus.ALREADY_DELIVERED)
    return send_recipient(orchestrator, task, journal)


def send_recipient(
    orchestrator: Orchestrator, task: RecipientTask, journal: Journal | None = None
) -> RecipientOutcome:
    """The second half of ``deliver_recipient``: send a claimed task, commit its outcome.

    For callers that commit the ``in_flight`` transition themselves, a batch at
    a time (``Journal.mark_in_flight``). With ``journal``, the outcome is
    committed right after the send returns, as ``delivered``, ``failed`` or
    ``ambiguous`` (a final ``TIMEOUT``, or a failure after an attempt that
    timed out; ``states.state_of``). Without one, committing it is the caller's
    job: ``broadcast`` sends with ``journal=None`` and commits the outcomes of
    several sends in one transaction (``Journal.record_outcomes``) before it
    yields them; until then such a row is still ``in_flight``.

    A ``BroadcastioError`` raised by ``send()`` for this one message (no healthy
    provider in strict mode, an attachment file gone missing, a provider
    reporting misconfiguration) is recorded as this recipient's failure, with the
    exception's code, rather than raised: one bad row must not end a broadcast of
    a million, and ``retry_failed=True`` resends it once the cause is fixed. Any
    other exception is a bug and propagates, leaving the row ``in_flight``.
    """
    message = task.message
    try:
        result = orchestrator.send(message)
        if result.success is not True:
            # Waits out a provider's rate limit (and sends again) inside a broadcast run.
            result = wait_out_pauses(orchestrator, message, task.broadcast_id, result)
    except BroadcastioError as error:
        logger.debug(
            "broadcast %s: send to %r raised %s", task.broadcast_id, message.recipient, error
        )
        result = _result_from_error(error)
    # Nearly every row: delivered, with nothing more to look at.
    state = RecipientState.DELIVERED if result.success is True else state_of(result)
    if journal is not None:
        kind = provider_address_kind(orchestrator, recorded_provider(result))
        journal.record_outcome(task, state, result, address_kind=kind)
    recipient = message.recipient
    # Positional: one per sent row (field order pinned by tests/broadcast/test_group_commit.py).
    if type(recipient) is str:
        return _sent_outcome(
            task.broadcast_id,
            task.index,
            recipient,
            message.metadata.reference_id,
            _STATUS_OF_STATE[state],
            result,
            task.attempts + 1,
            None,  # contact
        )
    return _sent_outcome(
        task.broadcast_id,
        task.index,
        recipient_key(recipient),
        message.metadata.reference_id,
        _STATUS_OF_STATE[state],
        result,
        task.attempts + 1,
        _contact_of(message),
    )


def provider_address_kind(orchestrator: Orchestrator, provider_name: str | None) -> str | None:
    """The ``address_kind`` of the chain's provider named ``provider_name`` (``None``: none)."""
    if provider_name is None:
        return None
    for provider in orchestrator.providers:
        if provider.name == provider_name:
            return getattr(provider, "address_kind", None)
    return None


def _contact_of(message: Message) -> Contact | None:
    recipient = message.recipient
    return None if isinstance(recipient, str) else recipient


def _result_from_error(error: BroadcastioError) -> DeliveryResult:
    details = {**error.details, "exception_type": type(error).__name__}
    return DeliveryResult(
        success=False,
        error=DeliveryError(code=error.code, message=error.message, details=details),
    )

"""The two vocabularies of a broadcast: a recipient's journal state, and what one run did.

They are kept apart on purpose. ``RecipientState`` is what the journal stores and
what survives a crash (``pending -> in_flight -> delivered | failed | ambiguous``).
``RecipientStatus`` is what one run did with one input row, including the rows it
chose not to send (a duplicate, a recipient delivered by an earlier run), which
have no journal state of their own.
"""

from __future__ import annotations

import enum

from broadcastio.errors.codes import ErrorCode
from broadcastio.records.result import EARLIER_TIMEOUT, DeliveryResult

__all__ = ["RecipientState", "RecipientStatus", "recorded_provider", "state_of"]


class RecipientState(str, enum.Enum):
    """Where one recipient of a broadcast stands, as written in the journal.

    Members are ``str`` subclasses whose value is the lower-case name stored in
    the journal, so ``RecipientState.IN_FLIGHT == "in_flight"``.
    """

    PENDING = "pending"
    """Read from the input and recorded; not sent yet."""
    IN_FLIGHT = "in_flight"
    """Handed to the provider chain; the outcome is not recorded yet. After a crash
    this is the state of every send that was under way."""
    DELIVERED = "delivered"
    """A provider accepted the message."""
    FAILED = "failed"
    """Every provider failed, with an error that says the message was not sent."""
    AMBIGUOUS = "ambiguous"
    """An attempt ended in ``TIMEOUT`` and none delivered: the message may or may not
    have gone out (see ``state_of``)."""

    def __str__(self) -> str:
        return self.value


class RecipientStatus(str, enum.Enum):
    """What one run of a broadcast did with one row of its input."""

    DELIVERED = "delivered"
    """Sent in this run, and a provider accepted it."""
    FAILED = "failed"
    """Sent in this run, and every provider failed."""
    AMBIGUOUS = "ambiguous"
    """Sent in this run, not delivered, and an attempt ended in ``TIMEOUT``."""
    DUPLICATE = "duplicate"
    """The recipient appeared earlier in this run's input; not sent again."""
    ALREADY_DELIVERED = "already_delivered"
    """The journal says an earlier run delivered it; not sent again."""
    NOT_RETRIED = "not_retried"
    """An earlier run failed (or was ambiguous) and ``retry_failed`` was false."""
    NOT_SENT = "not_sent"
    """Read and recorded as pending, but the run was stopped before sending it."""

    def __str__(self) -> str:
        return self.value


def state_of(result: DeliveryResult) -> RecipientState:
    """The journal state a final ``DeliveryResult`` leaves a recipient in.

    ``TIMEOUT`` is the one failure after which the message may have been sent, so
    it gets a state of its own: a resume must not treat it as "safe to resend"
    unless the provider deduplicates. That holds whichever attempt timed out: a
    send whose first provider timed out and whose fallback (or retry) then
    failed plainly ends with the plain error, which the orchestrator marks with
    ``EARLIER_TIMEOUT``; judged by its code alone it would pass for a message
    never sent.
    """
    if result.success:
        return RecipientState.DELIVERED
    error = result.error
    if error is not None and (
        error.code is ErrorCode.TIMEOUT or EARLIER_TIMEOUT in error.details
    ):
        return RecipientState.AMBIGUOUS
    return RecipientState.FAILED


def recorded_provider(result: DeliveryResult) -> str | None:
    """The provider the journal records for ``result``: who delivered, or who failed last.

    For a failure that is the last provider tried, the one whose error is
    recorded; ``None`` when no provider was tried at all.
    """
    if result.success:
        return result.provider
    return result.providers_tried[-1] if result.providers_tried else None

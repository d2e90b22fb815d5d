"""Delivery tracing: a record of every attempt made for one message."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import attrs

from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.health import ProviderHealth
from broadcastio.records.serialization import JsonRecord, as_tuple
from broadcastio.records.trusted import trusted_builder

__all__ = ["DeliveryAttempt", "DeliveryTrace"]


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class DeliveryAttempt:
    """One call to one provider's ``send()``; retries are separate attempts.

    ``attempt`` counts from 1 per provider, so ``("whatsapp", 2)`` is WhatsApp's
    first retry. ``duration_ms`` comes from a monotonic clock, not from the two
    wall-clock stamps, so it stays right across clock adjustments.
    """

    provider: str
    attempt: int
    started_at: _dt.datetime
    finished_at: _dt.datetime
    duration_ms: float
    success: bool
    error: DeliveryError | None = None
    message_id: str | None = None


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class DeliveryTrace(JsonRecord):
    """Everything the orchestrator did for one ``send(..., trace=True)``.

    ``attempts`` lists attempts in the order they ran. ``skipped`` holds the health
    reports of providers that were passed over as not ready; they were never sent to,
    so they are not attempts. ``trace_id`` is 32 hex digits, the shape W3C trace
    context and OpenTelemetry use, so it can be correlated with other tracing.
    """

    trace_id: str
    started_at: _dt.datetime
    finished_at: _dt.datetime
    success: bool
    attempts: tuple[DeliveryAttempt, ...] = attrs.field(default=(), converter=as_tuple)
    skipped: tuple[ProviderHealth, ...] = attrs.field(default=(), converter=as_tuple)

    @property
    def duration_ms(self) -> float:
        """Wall-clock time from the start of the send to its result, in milliseconds."""
        return (self.finished_at - self.started_at).total_seconds() * 1000.0


trusted_attempt: Callable[
    [
        str,
        int,
        _dt.datetime,
        _dt.datetime,
        float,
        bool,
        DeliveryError | None,
        str | None,
    ],
    DeliveryAttempt,
] = trusted_builder(DeliveryAttempt)
"""``DeliveryAttempt(...)`` of what the orchestrator measured, by position, unchecked."""

trusted_trace: Callable[
    [
        str,
        _dt.datetime,
        _dt.datetime,
        bool,
        tuple[DeliveryAttempt, ...],
        tuple[ProviderHealth, ...],
    ],
    DeliveryTrace,
] = trusted_builder(DeliveryTrace)
"""``DeliveryTrace(...)`` of the orchestrator's own records; ``attempts`` and ``skipped``
must be tuples."""

"""Delivery tracing: a record of every attempt made for one message."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs

from broadcastio.core.delivery_error import DeliveryError
from broadcastio.core.health import ProviderHealth
from broadcastio.core.serialization import structure_or_raise, unstructure

__all__ = ["DeliveryAttempt", "DeliveryTrace"]


@attrs.frozen
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


@attrs.frozen
class DeliveryTrace:
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
    attempts: tuple[DeliveryAttempt, ...] = ()
    skipped: tuple[ProviderHealth, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (ISO-8601 UTC timestamps) that ``from_dict`` turns back into ``self``."""
        data: dict[str, Any] = unstructure(self)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryTrace:
        """Rebuild a trace from ``to_dict`` output; raises ``ValidationError`` naming bad fields."""
        return structure_or_raise(data, cls)

    @property
    def duration_ms(self) -> float:
        """Wall-clock time from the start of the send to its result, in milliseconds."""
        return (self.finished_at - self.started_at).total_seconds() * 1000.0


"""The outcome of a send: what providers return and what the orchestrator hands back."""

from __future__ import annotations

from typing import Any

import attrs

from broadcastio.errors.codes import ErrorCode
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.serialization import JsonRecord, as_tuple
from broadcastio.records.trace import DeliveryTrace

__all__ = ["DeliveryError", "DeliveryResult"]


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class DeliveryResult(JsonRecord):
    """Whether a message got through, through which provider, and if not, why.

    A provider returns one of these from every ``send()``: delivery failures are
    data, not exceptions. The orchestrator's result adds ``providers_tried`` (every
    provider it attempted, in order; the last one produced ``error``) and, with
    ``trace=True``, the full ``trace``. On failure ``provider`` is ``None``: no
    provider delivered the message.
    """

    success: bool
    provider: str | None = None
    message_id: str | None = None
    error: DeliveryError | None = None
    providers_tried: tuple[str, ...] = attrs.field(default=(), converter=as_tuple)
    trace: DeliveryTrace | None = None
    details: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def delivered(
        cls, provider: str, message_id: str | None = None, **details: Any
    ) -> DeliveryResult:
        """Shorthand for providers: a successful attempt."""
        # Positional: every send of every provider builds one (field order pinned
        # by tests/engine/test_orchestrator.py); keywords cost attrs' __init__ more.
        return cls(True, provider, message_id, None, (), None, details)

    @classmethod
    def failed(
        cls,
        provider: str,
        code: ErrorCode | str,
        message: str,
        **details: Any,
    ) -> DeliveryResult:
        """Shorthand for providers: a failed attempt with a portable code and native details."""
        error = DeliveryError(code=code, message=message, details=details)
        return cls(False, provider, None, error, (), None, {})

"""The outcome of a send: what providers return and what the orchestrator hands back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from broadcastio.errors import ValidationError
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.checks import check_error_code
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.serialization import JsonRecord, as_tuple
from broadcastio.records.trace import DeliveryTrace
from broadcastio.records.trusted import trusted_builder

__all__ = ["EARLIER_TIMEOUT", "DeliveryError", "DeliveryResult"]

EARLIER_TIMEOUT = "earlier_timeout"
"""The key of a send's final ``error.details`` naming the provider whose attempt ended in
``TIMEOUT`` before the send failed with another code: the message may have gone out
through it. The orchestrator sets it (only then: a final ``TIMEOUT`` says so itself);
a broadcast records such a recipient as ``ambiguous``."""


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
        """Shorthand for providers: a successful attempt.

        ``provider`` must be a string and ``message_id`` a string or ``None``
        (``ValidationError`` otherwise). Every send of every provider builds
        one, so after those two checks the record is built without running
        attrs' ``__init__`` (``trusted_result``).
        """
        if not isinstance(provider, str):
            raise _not_text("provider", provider)
        if message_id is not None and not isinstance(message_id, str):
            raise _not_text("message_id", message_id, or_none=True)
        if cls is not DeliveryResult:  # a subclass gets its own constructor
            return cls(True, provider, message_id, None, (), None, details)
        return trusted_result(True, provider, message_id, None, (), None, details)

    @classmethod
    def failed(
        cls,
        provider: str,
        code: ErrorCode | str,
        message: str,
        **details: Any,
    ) -> DeliveryResult:
        """Shorthand for providers: a failed attempt with a portable code and native details.

        ``code`` is an ``ErrorCode`` or its name; ``provider`` and ``message``
        must be strings (``ValidationError`` naming the argument otherwise).
        """
        if not isinstance(provider, str):
            raise _not_text("provider", provider)
        if not isinstance(message, str):
            raise _not_text("message", message)
        if type(code) is not ErrorCode:
            code = check_error_code("code", code)
        error = trusted_error(code, message, details)
        if cls is not DeliveryResult:
            return cls(False, provider, None, error, (), None, {})
        return trusted_result(False, provider, None, error, (), None, {})


def _not_text(name: str, value: Any, *, or_none: bool = False) -> ValidationError:
    expected = "a string or None" if or_none else "a string"
    return ValidationError(
        f"DeliveryResult {name} must be {expected}, got {type(value).__name__} {value!r}",
        field=name,
    )


trusted_result: Callable[
    [
        bool,
        str | None,
        str | None,
        DeliveryError | None,
        tuple[str, ...],
        DeliveryTrace | None,
        dict[str, Any],
    ],
    DeliveryResult,
] = trusted_builder(DeliveryResult)
"""``DeliveryResult(...)`` of checked values, by position, for broadcastio's own send path:
``providers_tried`` must be a tuple and ``details`` a dict the result may keep."""

trusted_error: Callable[[ErrorCode, str, dict[str, Any]], DeliveryError] = trusted_builder(
    DeliveryError
)
"""``DeliveryError(...)`` of a real ``ErrorCode``, a string and a dict the error may keep."""

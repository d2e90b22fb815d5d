"""The outcome of a send: what providers return and what the orchestrator hands back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from broadcastio.errors.codes import ErrorCode
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

        Every send of every provider builds one, so when ``provider`` and
        ``message_id`` are what they should be (a string; a string or
        ``None``) the record is built without running attrs' ``__init__``
        (``trusted_result``). Anything else goes through the checked
        constructor, as it always did: a provider's odd value is the engine's
        to judge (``Orchestrator`` stores a non-text id as it is), never an
        exception out of ``send()`` after the channel has taken the message.
        """
        if (
            cls is DeliveryResult
            and type(provider) is str
            and (message_id is None or type(message_id) is str)
        ):
            return trusted_result(True, provider, message_id, None, (), None, details)
        return cls(True, provider, message_id, None, (), None, details)

    @classmethod
    def failed(
        cls,
        provider: str,
        code: ErrorCode | str,
        message: str,
        **details: Any,
    ) -> DeliveryResult:
        """Shorthand for providers: a failed attempt with a portable code and native details.

        ``code`` is an ``ErrorCode`` or its name. With a string ``provider``
        and ``message`` and an ``ErrorCode`` the record is built without
        attrs' ``__init__``; anything else goes through the checked
        constructors, as it always did.
        """
        if (
            cls is DeliveryResult
            and type(provider) is str
            and type(message) is str
            and type(code) is ErrorCode
        ):
            return trusted_result(
                False, provider, None, trusted_error(code, message, details), (), None, {}
            )
        error = DeliveryError(code=code, message=message, details=details)
        return cls(False, provider, None, error, (), None, {})

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

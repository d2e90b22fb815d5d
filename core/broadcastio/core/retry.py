"""Retry policies: how often one provider is retried, and how long to wait in between."""

from __future__ import annotations

import random as _random
from collections.abc import Iterable
from typing import Literal

import attrs

from broadcastio.core.codes import ErrorCode
from broadcastio.errors import ValidationError

__all__ = ["Backoff", "RetryPolicy"]

Backoff = Literal["none", "fixed", "exponential"]
_BACKOFFS = ("none", "fixed", "exponential")
_DEFAULT_RETRY_ON = frozenset({ErrorCode.PROVIDER_UNAVAILABLE})


def _to_codes(value: Iterable[ErrorCode | str] | None) -> frozenset[ErrorCode] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise ValidationError(
            f"retry_on must be a collection of error codes, not the string {value!r}"
        )
    codes = set()
    for item in value:
        try:
            codes.add(item if isinstance(item, ErrorCode) else ErrorCode(item))
        except (ValueError, TypeError):
            raise ValidationError(
                f"retry_on: {item!r} is not an error code; expected one of: {', '.join(ErrorCode)}"
            ) from None
    return frozenset(codes)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number of seconds, got {value!r}")
    if value != value or value < 0:  # NaN never compares equal to itself
        raise ValidationError(f"{name} must be >= 0, got {value!r}")
    return float(value)


@attrs.frozen
class RetryPolicy:
    """How one provider is retried before the orchestrator falls back to the next.

    ``max_attempts`` counts the first attempt, so the default (1) never retries:
    retrying is a decision, not a surprise. ``retry_on=None`` retries only
    ``PROVIDER_UNAVAILABLE``, the one failure where trying again is always safe and
    often works; list codes explicitly to retry others (``TIMEOUT`` is safe only when
    the provider deduplicates, as the WhatsApp bridge does).

    Waits before retry *n* (n = 1 for the first retry): ``"none"`` waits 0,
    ``"fixed"`` waits ``base_delay``, ``"exponential"`` waits
    ``base_delay * 2**(n-1)``; both are capped by ``max_delay``. ``jitter=True``
    replaces the wait with a uniform draw from ``[0, wait]`` ("full jitter"), which
    keeps many senders that failed together from retrying together.
    """

    max_attempts: int = 1
    backoff: Backoff = "none"
    base_delay: float = 0.0
    max_delay: float | None = None
    retry_on: frozenset[ErrorCode] | None = attrs.field(default=None, converter=_to_codes)
    jitter: bool = False

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ValidationError(f"max_attempts must be an int, got {self.max_attempts!r}")
        if self.max_attempts < 1:
            raise ValidationError(
                f"max_attempts must be >= 1 (it counts the first attempt), got {self.max_attempts}"
            )
        if self.backoff not in _BACKOFFS:
            raise ValidationError(
                f"backoff must be one of {', '.join(_BACKOFFS)}; got {self.backoff!r}"
            )
        object.__setattr__(self, "base_delay", _number("base_delay", self.base_delay))
        if self.max_delay is not None:
            max_delay = _number("max_delay", self.max_delay)
            if max_delay < self.base_delay:
                raise ValidationError(
                    f"max_delay ({max_delay}) must be >= base_delay ({self.base_delay})"
                )
            object.__setattr__(self, "max_delay", max_delay)
        if not isinstance(self.jitter, bool):
            raise ValidationError(f"jitter must be true or false, got {self.jitter!r}")

    @property
    def retryable_codes(self) -> frozenset[ErrorCode]:
        """The error codes this policy retries."""
        return _DEFAULT_RETRY_ON if self.retry_on is None else self.retry_on

    def should_retry(self, code: ErrorCode) -> bool:
        """Whether a failure with ``code`` is worth another attempt under this policy."""
        return code in (_DEFAULT_RETRY_ON if self.retry_on is None else self.retry_on)

    def delay_for(self, retry_number: int, rng: _random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = the first retry)."""
        if self.backoff == "none":
            return 0.0
        if self.backoff == "fixed":
            delay = self.base_delay
        else:
            # The exponent is capped so a huge attempt count saturates instead of overflowing.
            delay = self.base_delay * (2.0 ** min(retry_number - 1, 1000))
        if self.max_delay is not None and delay > self.max_delay:
            delay = self.max_delay
        if self.jitter and delay > 0:
            delay = (rng or _random).uniform(0.0, delay)
        return delay

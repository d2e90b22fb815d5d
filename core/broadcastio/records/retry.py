"""Retry policies: how often one provider is retried, and how long to wait in between."""

from __future__ import annotations

import random as _random
from collections.abc import Iterable
from typing import Literal

import attrs

from broadcastio.records.checks import (
    check_bool,
    check_error_code,
    check_int,
    check_iterable,
    check_number,
)
from broadcastio.errors.codes import ErrorCode
from broadcastio.errors import ValidationError

__all__ = ["Backoff", "RetryPolicy"]

Backoff = Literal["none", "fixed", "exponential"]
_BACKOFFS = ("none", "fixed", "exponential")
_DEFAULT_RETRY_ON = frozenset({ErrorCode.PROVIDER_UNAVAILABLE})
# Sane ranges, checked at construction (and so when a configuration is loaded).
# A hundred attempts of one provider for one message is already a retry storm,
# and a wait of more than a day is a scheduling job, not a retry.
MAX_ATTEMPTS_LIMIT = 100
DELAY_LIMIT = 86400.0


def _to_codes(value: Iterable[ErrorCode | str] | None) -> frozenset[ErrorCode] | None:
    if value is None:
        return None
    items = check_iterable("retry_on", value, "error codes")
    return frozenset(check_error_code("retry_on", item) for item in items)


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

    Ranges: ``max_attempts`` 1..100; ``base_delay`` and ``max_delay`` 0..86400
    seconds (one day). Anything outside is a ``ValidationError`` naming the field.
    """

    max_attempts: int = 1
    backoff: Backoff = "none"
    base_delay: float = 0.0
    max_delay: float | None = None
    retry_on: frozenset[ErrorCode] | None = attrs.field(default=None, converter=_to_codes)
    jitter: bool = False

    def __attrs_post_init__(self) -> None:
        # max_attempts counts the first attempt, so 1 means "never retry".
        check_int("max_attempts", self.max_attempts, minimum=1, maximum=MAX_ATTEMPTS_LIMIT)
        if self.backoff not in _BACKOFFS:
            raise ValidationError(
                f"backoff must be one of {', '.join(_BACKOFFS)}; got {self.backoff!r}",
                field="backoff",
            )
        object.__setattr__(
            self, "base_delay", check_number("base_delay", self.base_delay, maximum=DELAY_LIMIT)
        )
        if self.max_delay is not None:
            max_delay = check_number("max_delay", self.max_delay, maximum=DELAY_LIMIT)
            if max_delay < self.base_delay:
                raise ValidationError(
                    f"max_delay ({max_delay}) must be >= base_delay ({self.base_delay})",
                    field="max_delay",
                )
            object.__setattr__(self, "max_delay", max_delay)
        check_bool("jitter", self.jitter)

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

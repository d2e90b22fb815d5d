"""Per-provider pacing: a rate limit, and the thread-safe gate that enforces it.

A broadcast of thousands of messages runs on several threads, and WhatsApp bans
accounts that send in bursts. So the pace belongs to the *provider*, not to a
worker: every thread sending through ``whatsapp`` draws from one gate, and a
provider that answers ``RATE_LIMITED`` with a ``retry_after`` pauses that gate for
every thread at once instead of letting the other workers hit the same wall.

The gate is a reservation-based token bucket (the "generic cell rate"
formulation): each caller reserves the next free slot under a lock and then
sleeps *outside* the lock until its slot. Reservations are handed out in arrival
order, never exceed ``burst`` messages at once nor ``count`` per ``period`` on
average, and cost one lock and a few float operations.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import attrs

from broadcastio.records.checks import check_int, check_number
from broadcastio.errors import ValidationError

__all__ = ["RateLimit", "ProviderGate"]

_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
# Sane ranges, checked at construction (and so when a configuration is loaded):
# no channel takes a million messages in one period, a period longer than a day
# is a schedule rather than a pace, and a burst above ten thousand is no limit.
COUNT_LIMIT = 1_000_000.0
PERIOD_LIMIT = 86400.0
BURST_LIMIT = 10_000
_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*\Z")


@attrs.frozen
class RateLimit:
    """At most ``count`` messages per ``period`` seconds, with bursts of up to ``burst``.

    The default ``burst=1`` spaces messages evenly (``20/minute`` sends one every
    three seconds) rather than letting 20 go at once and then waiting a minute:
    an even pace is both kinder to the channel's anti-spam heuristics and easier
    to reason about. ``RateLimit.parse("20/minute")`` reads the configuration
    form; units are second, minute, hour and day (``s``, ``m``/``min``, ``h``,
    ``d``, plural allowed), optionally with a number: ``"1/5s"``.

    Ranges: ``count`` above 0 and at most 1,000,000; ``period`` above 0 and at
    most 86400 seconds (a day); ``burst`` 1..10,000. Anything outside is a
    ``ValidationError`` that names the part and the range.
    """

    count: float
    period: float = 1.0
    burst: int = 1

    def __attrs_post_init__(self) -> None:
        count = check_number("rate limit count", self.count, exclusive=True, maximum=COUNT_LIMIT)
        period = check_number(
            "rate limit period (seconds)", self.period, exclusive=True, maximum=PERIOD_LIMIT
        )
        object.__setattr__(self, "count", count)
        object.__setattr__(self, "period", period)
        check_int("rate limit burst", self.burst, minimum=1, maximum=BURST_LIMIT)

    @property
    def interval(self) -> float:
        """Seconds between two messages at the steady pace."""
        return self.period / self.count

    @classmethod
    def parse(cls, text: Any, *, burst: int = 1) -> RateLimit:
        """Read ``"20/minute"``, ``"10/s"``, ``"1/5s"`` or ``"100/hour"``."""
        if not isinstance(text, str):
            raise ValidationError(f"a rate limit must be text like '20/minute', got {text!r}")
        match = _RATE.match(text.lower())
        unit = _UNITS.get(match.group(3)) if match else None
        if match is None or unit is None:
            raise ValidationError(
                f"invalid rate limit {text!r}; expected COUNT/UNIT such as '20/minute', "
                "'10/second', '1/5s' or '500/hour' (units: second, minute, hour, day)"
            )
        multiplier = float(match.group(2)) if match.group(2) else 1.0
        return cls(float(match.group(1)), unit * multiplier, burst)

    @classmethod
    def coerce(cls, value: Any) -> RateLimit:
        """A ``RateLimit`` from itself or its text form."""
        return value if isinstance(value, RateLimit) else cls.parse(value)

    def __str__(self) -> str:
        count = f"{self.count:g}"
        for name, seconds in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
            if self.period == seconds:
                return f"{count}/{name}"
        return f"{count}/{self.period:g}s" if self.period != 1.0 else f"{count}/second"


class ProviderGate:
    """The pace of one provider, shared by every thread that sends through it.

    ``reserve(now)`` books the caller's slot and says how long to wait for it;
    ``pause(seconds, now)`` holds everyone back after a provider's ``Retry-After``.
    A gate without a ``RateLimit`` only pauses. Times are the orchestrator
    clock's ``monotonic()`` seconds, so tests drive the gate with a fake clock.
    """

    __slots__ = ("_interval", "_lock", "_next", "_paused_until", "_tolerance", "limit")

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.limit = limit
        self._interval = limit.interval if limit is not None else 0.0
        # How far ahead of the steady pace a caller may go: burst - 1 slots.
        self._tolerance = (limit.burst - 1) * self._interval if limit is not None else 0.0
        self._next = float("-inf")  # the steady-pace time of the next free slot
        self._paused_until = float("-inf")
        self._lock = threading.Lock()

    def paused_for(self, now: float) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - now)

    def reserve(
        self, now: float, *, max_pause: float | None = None, max_wait: float | None = None
    ) -> float | None:
        """Book the next slot; return the seconds to wait for it.

        Returns ``None`` without booking when the provider is paused for longer
        than ``max_pause``: the caller should not wait that long (its retry
        policy's ``max_delay``) and falls back to the next provider instead.
        Pacing waits are refused only past ``max_wait`` (what is left of a send's
        deadline): a slot the caller could not use would hold back everyone
        queued behind it for nothing.
        """
        with self._lock:
            paused_until = self._paused_until
            if max_pause is not None and paused_until - now > max_pause:
                return None
            start = max(now, self._next - self._tolerance, paused_until)
            if max_wait is not None and start - now > max_wait:
                return None
            self._next = max(self._next, start) + self._interval
        return start - now

    def pause(self, seconds: float, now: float) -> None:
        """Hold every caller back for ``seconds`` from ``now`` (a pause never shortens)."""
        with self._lock:
            self._paused_until = max(self._paused_until, now + seconds)

    def __repr__(self) -> str:
        return f"ProviderGate({self.limit})"

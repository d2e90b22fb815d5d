"""Time as a dependency, so retries and health TTLs can be tested without sleeping."""

from __future__ import annotations

import datetime as _dt
import functools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Clock", "SystemClock"]

_UTC = _dt.timezone.utc


class Clock(Protocol):
    """What the orchestrator needs from time: wall-clock stamps, a monotonic counter, sleep."""

    def now(self) -> _dt.datetime:
        """The current time as an aware UTC datetime (for trace timestamps)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for TTLs, durations)."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (retry back-off goes through here)."""


class SystemClock:
    """The real clock: ``datetime.now(UTC)``, ``time.perf_counter`` and ``time.sleep``.

    ``now`` and ``monotonic`` are bound straight to the builtins rather than
    wrapped in methods: a traced send reads the clock four times, and a Python
    frame per read is a measurable share of its cost (see ``bench/``).
    """

    __slots__ = ("monotonic", "now")

    def __init__(self) -> None:
        self.now: Callable[[], _dt.datetime] = functools.partial(_dt.datetime.now, _UTC)
        self.monotonic: Callable[[], float] = time.perf_counter

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

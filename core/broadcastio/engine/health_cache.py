"""``HealthCache``: the thread-safe TTL cache the orchestrator keeps of provider health."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from broadcastio.engine.clock import Clock
from broadcastio.engine.deadline import BoundedCaller
from broadcastio.records.health import ProviderHealth

if TYPE_CHECKING:
    from broadcastio.providers.base import MessageProvider

__all__ = ["HealthCache"]


class _PendingCheck:
    """A health check under way in the background, shared by everyone waiting for it."""

    __slots__ = ("done", "health")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.health: ProviderHealth | None = None


class HealthCache:
    """Remembers each provider's last health report for ``ttl`` seconds.

    Health checks may be network calls, so sending thousands of messages must not
    mean thousands of checks. Reads take no lock (a dict lookup is atomic); a miss
    takes that provider's own lock, so concurrent senders run one check between
    them and a slow provider never blocks the others. ``ttl=None`` checks on every
    call. A ``health()`` that raises, or returns something other than a
    ``ProviderHealth``, counts as not ready: a broken probe is no reason to trust
    the provider.

    ``on_fresh`` hears of every real check. It is called after the report is
    stored and the lock released, so a slow observer delays only its own thread
    and an observer that asks for health again gets the cached report instead of
    a deadlock. Checks an observer causes while being notified (possible with
    ``ttl=None``) are not notified again, which would recurse for ever.
    """

    def __init__(
        self,
        ttl: float | None,
        clock: Clock,
        on_fresh: Callable[[ProviderHealth], None] | None = None,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._on_fresh = on_fresh
        # name -> (report, monotonic time until which it is fresh); written only
        # while ``ttl`` is set. Read directly by the orchestrator's common send
        # path, which must stay a dict lookup (issue 15), so it is public.
        self.entries: dict[str, tuple[ProviderHealth, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._notifying = threading.local()
        # Checks bounded by a deadline run here, one per provider at a time.
        self._pending: dict[str, _PendingCheck] = {}
        self._background = BoundedCaller(name="broadcastio-health")

    def get(self, provider: MessageProvider, *, wait: float | None = None) -> ProviderHealth:
        """The provider's health, from the cache while fresh, else from ``provider.health()``.

        ``wait`` bounds how long the caller waits for a check (a send's deadline):
        past it the provider counts as not ready for this caller, and the check
        goes on in the background and is cached when it answers. Without
        ``wait`` the caller waits as long as ``health()`` takes.
        """
        name = provider.name
        if wait is not None:
            return self._get_within(provider, wait)
        if self.ttl is None:
            health = self._check(provider)
        else:
            entry = self.entries.get(name)
            if entry is not None and entry[1] > self._clock.monotonic():
                return entry[0]
            with self._lock_for(name):
                entry = self.entries.get(name)
                if entry is not None and entry[1] > self._clock.monotonic():
                    return entry[0]
                health = self._check(provider)
                self.entries[name] = (health, self._clock.monotonic() + self.ttl)
        self._notify(health)
        return health

    def _get_within(self, provider: MessageProvider, wait: float) -> ProviderHealth:
        name = provider.name
        entry = self.entries.get(name)
        if self.ttl is not None and entry is not None and entry[1] > self._clock.monotonic():
            return entry[0]
        with self._locks_guard:
            pending = self._pending.get(name)
            start = pending is None
            if pending is None:
                pending = self._pending[name] = _PendingCheck()
        if start:
            self._background.start(lambda: self._check_for(provider, pending))
        if pending.done.wait(max(0.0, wait)) and pending.health is not None:
            return pending.health
        return ProviderHealth(
            provider=name,
            ready=False,
            details={
                "reason": f"health() did not answer within {wait:.3g}s "
                "(its share of the send's deadline)",
                "timed_out": True,
            },
        )

    def _check_for(self, provider: MessageProvider, pending: _PendingCheck) -> None:
        """Run one check for every caller waiting on ``pending``; cache and announce it."""
        name = provider.name
        try:
            health = self._check(provider)
            if self.ttl is not None:
                self.entries[name] = (health, self._clock.monotonic() + self.ttl)
            pending.health = health
        finally:
            if pending.health is None:
                # _check turns every Exception into a report; anything else
                # (SystemExit in a worker) still leaves the waiters an answer.
                pending.health = ProviderHealth(
                    provider=name, ready=False, details={"reason": "health() did not return"}
                )
            with self._locks_guard:
                self._pending.pop(name, None)
            pending.done.set()
        self._notify(health)

    def _notify(self, health: ProviderHealth) -> None:
        if self._on_fresh is None or getattr(self._notifying, "active", False):
            return
        self._notifying.active = True
        try:
            self._on_fresh(health)
        finally:
            self._notifying.active = False

    def invalidate(self, name: str | None = None) -> None:
        """Forget one provider's cached health (or everyone's) so the next send asks again."""
        if name is None:
            self.entries.clear()
        else:
            self.entries.pop(name, None)

    def _lock_for(self, name: str) -> threading.Lock:
        lock = self._locks.get(name)
        if lock is None:
            with self._locks_guard:
                lock = self._locks.setdefault(name, threading.Lock())
        return lock

    def _check(self, provider: MessageProvider) -> ProviderHealth:
        name = provider.name
        try:
            health = provider.health()
        except Exception as exc:  # noqa: BLE001 - any failure to answer means "not ready"
            health = ProviderHealth(
                provider=name,
                ready=False,
                details={
                    "error": f"health() raised {type(exc).__name__}: {exc}",
                    "exception_type": type(exc).__name__,
                },
            )
        else:
            if not isinstance(health, ProviderHealth):
                health = ProviderHealth(
                    provider=name,
                    ready=False,
                    details={
                        "error": f"health() returned {type(health).__name__}, "
                        "expected ProviderHealth"
                    },
                )
        return health

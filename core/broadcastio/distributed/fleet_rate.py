"""Fleet-wide pacing: one provider's ``rate_limit`` shared by every worker, through Redis.

In one process the orchestrator's ``ProviderGate`` paces a provider for all its
threads. Across worker processes (and machines) each gate would allow the full
rate, so N workers would send N times too fast. Here the same reservation-based
token bucket (the generic cell rate algorithm ``ProviderGate`` uses: the time of
the next free slot, a tolerance of ``burst - 1`` intervals) lives in Redis, and
one Lua script reserves a slot atomically, on Redis's own clock (``TIME``), so
workers on machines with skewed clocks still share one pace.

A ``RATE_LIMITED`` answer with a ``retry_after`` pauses the provider for the
whole fleet: the pause is a Redis key (the time it ends, with a matching TTL)
that every reservation honours, and a pause only ever grows.

``FleetPacedProvider`` wraps a provider of the chain: before each attempt it
reserves a slot and sleeps until it, then calls the provider; after a
``RATE_LIMITED`` answer it records the fleet pause. A slot further away than
``max_wait`` is not booked: the attempt fails with ``RATE_LIMITED`` and a
``retry_after`` instead, without calling the provider, so the orchestrator's
retry policy decides, as it does for a paused provider in one process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from broadcastio.errors.codes import ErrorCode
from broadcastio.providers.base import MessageProvider
from broadcastio.records.health import ProviderHealth
from broadcastio.records.message import Message
from broadcastio.records.rate_limit import RateLimit
from broadcastio.records.result import DeliveryResult

__all__ = ["FleetGate", "FleetPacedProvider"]

logger = logging.getLogger("broadcastio")

# KEYS: the slot key, the pause key. ARGV: interval and tolerance in microseconds,
# the longest wait to book (microseconds), then "reserve" or "pause" and, for a
# pause, its length in microseconds. Returns {booked (1/0), wait in microseconds}.
_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local paused_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[4] == 'pause' then
    local until_time = now + tonumber(ARGV[5])
    if until_time > paused_until then
        redis.call('SET', KEYS[2], string.format('%.0f', until_time),
                   'PX', math.ceil(tonumber(ARGV[5]) / 1000) + 1000)
    end
    return {1, 0}
end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local next_slot = tonumber(redis.call('GET', KEYS[1]) or '0')
local start = math.max(now, next_slot - tolerance, paused_until)
if start - now > max_wait then
    return {0, string.format('%.0f', start - now)}
end
local new_next = math.max(next_slot, start) + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_next),
           'PX', math.ceil((new_next - now) / 1000) + 1000)
return {1, string.format('%.0f', start - now)}
"""

_MICROSECONDS = 1_000_000


class FleetGate:
    """One provider's pace and pause in Redis, shared by every worker that uses the same keys.

    ``limit`` is the provider's ``RateLimit`` (``None``: no pace, pauses only).
    ``namespace`` separates fleets sharing one Redis; the keys are
    ``NAMESPACE:pace:PROVIDER`` and ``NAMESPACE:pause:PROVIDER``.
    """

    def __init__(
        self, client: Any, provider: str, limit: RateLimit | None, *, namespace: str = "broadcastio"
    ) -> None:
        self.limit = limit
        self.provider = provider
        self._keys = [f"{namespace}:pace:{provider}", f"{namespace}:pause:{provider}"]
        interval = 0.0 if limit is None else limit.interval
        self._interval = int(interval * _MICROSECONDS)
        self._tolerance = 0 if limit is None else int((limit.burst - 1) * interval * _MICROSECONDS)
        self._script = client.register_script(_SCRIPT)

    def reserve(self, max_wait: float) -> tuple[bool, float]:
        """Book the next fleet-wide slot: ``(True, seconds to wait)``; ``(False, wait)`` if too far.

        Nothing is booked when the slot (or the end of a pause) is more than
        ``max_wait`` seconds away: a slot nobody uses would hold back the fleet.
        """
        booked, wait = self._script(
            keys=self._keys,
            args=[self._interval, self._tolerance, int(max_wait * _MICROSECONDS), "reserve"],
        )
        return bool(int(booked)), int(wait) / _MICROSECONDS

    def pause(self, seconds: float) -> None:
        """Hold the whole fleet back from this provider for ``seconds`` (never shortens a pause)."""
        self._script(keys=self._keys, args=[0, 0, 0, "pause", int(seconds * _MICROSECONDS)])


class FleetPacedProvider(MessageProvider):
    """A provider whose attempts draw slots from a ``FleetGate``; everything else is the provider's.

    ``name``, ``address_kind``, ``retry_policy``, ``health()`` and ``close()``
    are the wrapped provider's, so the orchestrator treats it as that provider.
    ``max_wait`` is the longest a send waits for its slot before failing with
    ``RATE_LIMITED`` (the orchestrator then retries after ``retry_after`` if its
    policy allows, or falls back).
    """

    def __init__(self, provider: Any, gate: FleetGate, *, max_wait: float) -> None:
        self.provider = provider
        self.gate = gate
        self.max_wait = max_wait
        # Per instance, as plugin assembly names instances: the wrapper is the provider.
        self.name = provider.name  # type: ignore[misc]
        self.address_kind = getattr(provider, "address_kind", None)  # type: ignore[misc]
        self.retry_policy = getattr(provider, "retry_policy", None)

    def health(self) -> ProviderHealth:
        health: ProviderHealth = self.provider.health()
        return health

    def send(self, message: Message) -> DeliveryResult:
        """Wait for a fleet-wide slot, send, and pause the fleet if the provider says so."""
        booked, wait = self.gate.reserve(self.max_wait)
        if not booked:
            return DeliveryResult.failed(
                self.name,
                ErrorCode.RATE_LIMITED,
                f"provider {self.name!r}: the fleet's next slot is {wait:.3g}s away "
                f"(rate limit {self.gate.limit}, or paused after it asked to slow down)",
                retry_after=wait,
                fleet=True,
            )
        if wait > 0:
            logger.debug("provider %r: waiting %.3fs for a fleet-wide slot", self.name, wait)
            time.sleep(wait)
        result: DeliveryResult = self.provider.send(message)
        error = result.error
        if error is not None and error.code is ErrorCode.RATE_LIMITED:
            retry_after = error.details.get("retry_after")
            if isinstance(retry_after, (int, float)) and not isinstance(retry_after, bool):
                if 0 < retry_after <= 86_400:
                    self.gate.pause(float(retry_after))
                    logger.info(
                        "provider %r asked to slow down: the fleet pauses it for %.3gs",
                        self.name,
                        retry_after,
                    )
        return result

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"FleetPacedProvider({self.provider!r}, limit={self.gate.limit})"

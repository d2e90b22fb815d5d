"""The health cache: TTL, no-cache mode, and concurrent senders."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from broadcastio import Orchestrator, ProviderHealth, hookimpl


def test_health_is_cached_for_the_ttl(make_provider, message, clock) -> None:
    provider = make_provider("p")
    orchestrator = Orchestrator([provider], health_ttl=30, clock=clock)
    orchestrator.send(message)
    orchestrator.send(message)
    assert provider.health_calls == 1
    clock.advance(29.9)
    orchestrator.send(message)
    assert provider.health_calls == 1
    clock.advance(0.2)
    orchestrator.send(message)
    assert provider.health_calls == 2


def test_ttl_none_checks_every_time(make_provider, message, clock) -> None:
    provider = make_provider("p")
    orchestrator = Orchestrator([provider], health_ttl=None, clock=clock)
    for _ in range(3):
        orchestrator.send(message)
    assert provider.health_calls == 3


def test_a_recovered_provider_is_used_after_the_ttl(make_provider, message, clock) -> None:
    primary, backup = make_provider("primary", ready=False), make_provider("backup")
    orchestrator = Orchestrator([primary, backup], health_ttl=10, clock=clock)
    assert orchestrator.send(message).provider == "backup"
    primary.ready = True
    assert orchestrator.send(message).provider == "backup"
    clock.advance(10)
    assert orchestrator.send(message).provider == "primary"


def test_invalidate_forces_a_new_check(make_provider, message, clock) -> None:
    provider = make_provider("p")
    orchestrator = Orchestrator([provider], clock=clock)
    orchestrator.send(message)
    orchestrator.health_cache.invalidate("p")
    orchestrator.send(message)
    assert provider.health_calls == 2


def test_orchestrator_health_lists_every_provider(make_provider, clock) -> None:
    orchestrator = Orchestrator([make_provider("a"), make_provider("b", ready=False)], clock=clock)
    assert [(h.provider, h.ready) for h in orchestrator.health()] == [("a", True), ("b", False)]


def test_concurrent_misses_run_one_check(make_provider, message) -> None:
    """Many threads sending at once through a slow probe: one check, every send delivered."""
    provider = make_provider("slow")
    started = threading.Event()

    def slow_health() -> ProviderHealth:
        provider.health_calls += 1
        started.set()
        time.sleep(0.05)
        return ProviderHealth("slow", True)

    provider.health = slow_health
    orchestrator = Orchestrator([provider], health_ttl=60)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: orchestrator.send(message), range(64)))
    assert all(r.success for r in results)
    assert provider.health_calls == 1
    assert len(provider.calls) == 64


def test_zero_ttl_checks_every_time(make_provider, message, clock) -> None:
    provider = make_provider("p")
    orchestrator = Orchestrator([provider], health_ttl=0, clock=clock)
    orchestrator.send(message)
    orchestrator.send(message)
    assert provider.health_calls == 2


def _finishes(function, seconds: float = 5.0) -> bool:
    worker = threading.Thread(target=function, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


@pytest.mark.parametrize("ttl", [30, None])
def test_on_health_observer_may_call_back_into_the_orchestrator(
    make_provider, message, ttl
) -> None:
    """A re-entrant observer gets an answer: no deadlock on the cache lock, no endless recursion."""
    orchestrator = Orchestrator([make_provider("p")], health_ttl=ttl)
    seen: list[bool] = []

    class Reentrant:
        @hookimpl
        def on_health(self, health: ProviderHealth) -> None:
            seen.append(all(h.ready for h in orchestrator.health()))

    orchestrator.plugin_manager.register(Reentrant())
    results: list[object] = []
    assert _finishes(lambda: results.append(orchestrator.send(message)))
    assert results[0].success
    assert seen == [True]


def test_a_slow_on_health_observer_does_not_hold_the_provider_lock(make_provider, message) -> None:
    orchestrator = Orchestrator([make_provider("p")], health_ttl=60)
    release = threading.Event()

    class Slow:
        @hookimpl
        def on_health(self) -> None:
            release.wait(5)

    orchestrator.plugin_manager.register(Slow())
    first = threading.Thread(target=orchestrator.send, args=(message,), daemon=True)
    first.start()
    time.sleep(0.05)  # let the first send reach the observer
    # The report is already cached, so a second sender is not blocked by the first's observer.
    assert _finishes(lambda: orchestrator.send(message), seconds=2)
    release.set()
    first.join(5)

"""The health cache: TTL, no-cache mode, and concurrent senders."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from broadcastio import Orchestrator, ProviderHealth


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

"""Metrics: the messaging conventions' counter and duration histogram by provider and
outcome, waits, and each provider's health."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import Gauge, Histogram, Sum

from broadcastio import ErrorCode, Message, RetryPolicy
from broadcastio_opentelemetry import names
from tests.conftest import FakeClock, ScriptedProvider
from tests.opentelemetry.conftest import Telemetry


class Mail(ScriptedProvider):
    name = "email"


def _points(metric: Any) -> dict[frozenset[tuple[str, Any]], Any]:
    return {
        frozenset(dict(point.attributes or {}).items()): point
        for point in metric.data.data_points
    }


def test_sent_messages_and_duration_per_attempt_by_provider_and_outcome(
    telemetry: Telemetry,
) -> None:
    flaky = ScriptedProvider("a", [ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_UNAVAILABLE])
    orchestrator = telemetry.orchestrator(
        [flaky, Mail("alerts-mail")],
        retry_policies={"a": RetryPolicy(max_attempts=2, backoff="none")},
    )
    result = orchestrator.send(Message("+15551234567", "first"), trace=True)
    assert result.provider == "alerts-mail"
    assert orchestrator.send(Message("+15551234567", "second")).provider == "a"

    metrics = telemetry.metrics()
    sent = metrics["messaging.client.sent.messages"]
    assert sent.unit == "{message}"
    assert isinstance(sent.data, Sum) and sent.data.is_monotonic
    base = {
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
    }
    failed_a = frozenset(
        {
            **base,
            "messaging.system": "a",
            "broadcastio.provider.name": "a",
            "error.type": "PROVIDER_UNAVAILABLE",
        }.items()
    )
    ok_a = frozenset({**base, "messaging.system": "a", "broadcastio.provider.name": "a"}.items())
    ok_mail = frozenset(
        {**base, "messaging.system": "email", "broadcastio.provider.name": "alerts-mail"}.items()
    )
    assert {key: point.value for key, point in _points(sent).items()} == {
        failed_a: 2,
        ok_a: 1,
        ok_mail: 1,
    }

    duration = metrics["messaging.client.operation.duration"]
    assert duration.unit == "s"
    assert isinstance(duration.data, Histogram)
    points = _points(duration)
    assert {key: point.count for key, point in points.items()} == {
        failed_a: 2,
        ok_a: 1,
        ok_mail: 1,
    }
    assert tuple(points[ok_mail].explicit_bounds) == names.DURATION_BUCKETS
    # Seconds, from the attempt's own duration.
    assert result.trace is not None
    mail_attempt = result.trace.attempts[-1]
    assert points[ok_mail].sum == pytest.approx(mail_attempt.duration_ms / 1000.0)


def test_waits_are_a_histogram_by_provider_and_reason(
    telemetry: Telemetry, clock: FakeClock
) -> None:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a")], clock=clock, rate_limits={"a": "1/second"}
    )
    for _ in range(3):
        orchestrator.send(Message("+15551234567", "hi"))
    wait = telemetry.metrics()["broadcastio.client.wait.duration"]
    assert wait.unit == "s"
    (point,) = wait.data.data_points
    assert dict(point.attributes or {}) == {
        "broadcastio.provider.name": "a",
        "messaging.system": "a",
        "broadcastio.wait.reason": "rate_limit",
    }
    assert point.count == len(clock.sleeps) == 2
    assert point.sum == pytest.approx(sum(clock.sleeps))


def test_health_is_a_gauge_per_provider(telemetry: Telemetry) -> None:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("up"), ScriptedProvider("down", ready=False)]
    )
    orchestrator.health()
    health = telemetry.metrics()["broadcastio.provider.health"]
    assert isinstance(health.data, Gauge)
    assert {
        dict(point.attributes or {})["broadcastio.provider.name"]: point.value
        for point in health.data.data_points
    } == {"up": 1, "down": 0}


def test_an_attempt_held_back_while_the_provider_is_paused_is_not_counted_as_sent(
    telemetry: Telemetry, clock: FakeClock
) -> None:
    slow_down = ScriptedProvider("a", [ErrorCode.RATE_LIMITED], retry_after=100.0)
    orchestrator = telemetry.orchestrator(
        [slow_down, ScriptedProvider("b")],
        clock=clock,
        retry_policies={"a": RetryPolicy(max_attempts=2, max_delay=1.0)},
    )
    first = orchestrator.send(Message("+15551234567", "one"), trace=True)
    second = orchestrator.send(Message("+15551234567", "two"), trace=True)
    assert first.provider == second.provider == "b"
    # The second send's attempt through "a" was held back by the orchestrator.
    assert second.trace is not None
    held = second.trace.attempts[0]
    assert held.provider == "a" and held.error is not None and held.error.details.get("paused")
    assert len(slow_down.calls) == 1

    sent = telemetry.metrics()["messaging.client.sent.messages"]
    by_provider: dict[str, int] = {}
    for point in sent.data.data_points:
        name = dict(point.attributes or {})["broadcastio.provider.name"]
        by_provider[name] = by_provider.get(name, 0) + point.value
    assert by_provider == {"a": 1, "b": 2}

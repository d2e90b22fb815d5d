"""Two WhatsApp instances (two numbers, two real bridges) in one chain, falling back between them.

Both bridges are the real node-bridge process with the fake WhatsApp driver;
the instances are configured the way a user would, by name with
``type = "whatsapp"``, and everything goes through the installed plugins.
"""

from __future__ import annotations

import pytest

from broadcastio import ErrorCode, Message, Orchestrator, RetryPolicy

pytestmark = pytest.mark.integration

RECIPIENT = "+15551234567"


def two_numbers(sales, support, **kwargs) -> Orchestrator:
    return Orchestrator.from_plugins(
        ["wa-sales", "wa-support"],
        settings={
            "wa-sales": {"type": "whatsapp", **sales.settings()},
            "wa-support": {"type": "whatsapp", **support.settings()},
        },
        environ={},
        **kwargs,
    )


def test_the_first_instance_delivers_and_the_second_sends_nothing(bridge, start_bridge) -> None:
    sales = start_bridge()
    with two_numbers(sales, bridge) as orchestrator:
        result = orchestrator.send(Message(RECIPIENT, "order shipped"), trace=True)
    assert result.success and result.provider == "wa-sales"
    assert result.providers_tried == ("wa-sales",)
    assert [message["text"] for message in sales.sent()] == ["order shipped"]
    assert bridge.sent() == []


def test_a_bridge_that_is_down_falls_back_to_the_other_number(bridge, start_bridge) -> None:
    sales = start_bridge()
    with two_numbers(
        sales, bridge, health_ttl=60, retry_policy=RetryPolicy(max_attempts=2)
    ) as orchestrator:
        assert orchestrator.send(Message(RECIPIENT, "before")).provider == "wa-sales"
        sales.kill()
        result = orchestrator.send(Message(RECIPIENT, "after"), trace=True)
        assert result.success and result.provider == "wa-support"
        attempts = [
            (a.provider, a.attempt, a.error.code if a.error else None)
            for a in result.trace.attempts
        ]
        assert attempts == [
            ("wa-sales", 1, ErrorCode.PROVIDER_UNAVAILABLE),
            ("wa-sales", 2, ErrorCode.PROVIDER_UNAVAILABLE),
            ("wa-support", 1, None),
        ]
        # Once health is asked again, the dead bridge is skipped under its instance name.
        orchestrator.health_cache.invalidate()
        again = orchestrator.send(Message(RECIPIENT, "later"), trace=True)
        assert again.provider == "wa-support"
        assert [health.provider for health in again.trace.skipped] == ["wa-sales"]
    assert [message["text"] for message in bridge.sent()] == ["after", "later"]


def test_health_is_per_instance(bridge, start_bridge) -> None:
    sales = start_bridge()
    sales.set_state("QR")
    with two_numbers(sales, bridge, require_healthy=True) as orchestrator:
        health = {report.provider: report for report in orchestrator.health()}
        result = orchestrator.send(Message(RECIPIENT, "hi"), trace=True)
    assert set(health) == {"wa-sales", "wa-support"}
    assert not health["wa-sales"].ready and health["wa-sales"].details["state"] == "QR"
    assert health["wa-support"].ready
    assert result.provider == "wa-support"
    assert [skipped.provider for skipped in result.trace.skipped] == ["wa-sales"]
    assert sales.sent() == []

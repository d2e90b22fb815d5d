"""Rate limits: parsing, the shared gate, and pacing and pauses through the orchestrator."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    Orchestrator,
    RateLimit,
    RetryPolicy,
    ValidationError,
)
from broadcastio.records.rate_limit import ProviderGate


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [
        ("20/minute", 20, 60),
        ("20/minutes", 20, 60),
        ("10/second", 10, 1),
        ("10/s", 10, 1),
        ("1/5s", 1, 5),
        ("500 / hour", 500, 3600),
        ("2.5/min", 2.5, 60),
        ("1000/day", 1000, 86400),
    ],
)
def test_parse_reads_the_configuration_forms(text: str, count: float, period: float) -> None:
    limit = RateLimit.parse(text)
    assert (limit.count, limit.period, limit.burst) == (count, period, 1)


@pytest.mark.parametrize("text", ["", "20", "20/fortnight", "/minute", "0/minute", "-1/s", "x/s"])
def test_parse_names_the_bad_text(text: str) -> None:
    with pytest.raises(ValidationError, match="rate limit"):
        RateLimit.parse(text)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(ValidationError, match="20/minute"):
        RateLimit.parse(20)


def test_text_form_round_trips() -> None:
    for text in ("20/minute", "10/second", "500/hour", "1000/day", "1/5s"):
        assert RateLimit.parse(str(RateLimit.parse(text))) == RateLimit.parse(text)


@pytest.mark.parametrize("burst", [0, -1, 1.5, True])
def test_burst_must_be_a_positive_int(burst: Any) -> None:
    with pytest.raises(ValidationError, match="burst"):
        RateLimit(10, 1, burst)


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ((1_000_001, 1), r"rate limit count must be > 0 and <= 1000000, got 1000001"),
        ((0, 1), r"rate limit count must be > 0 and <= 1000000"),
        ((10**400, 1), r"rate limit count must be > 0 and <= 1000000, got an integer of 401"),
        ((1, 86401), r"rate limit period \(seconds\) must be > 0 and <= 86400"),
        ((1, 1, 10_001), r"rate limit burst must be between 1 and 10000, got 10001"),
    ],
)
def test_a_rate_limit_out_of_range_names_the_part_and_the_range(
    arguments: tuple[Any, ...], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        RateLimit(*arguments)


@pytest.mark.parametrize("text", ["1000001/s", "1/2d", "1/86401s"])
def test_parse_refuses_a_rate_outside_the_ranges(text: str) -> None:
    with pytest.raises(ValidationError, match=r"must be > 0 and <= (1000000|86400)"):
        RateLimit.parse(text)


@given(
    count=st.floats(min_value=0.001, max_value=1_000_000),
    period=st.floats(min_value=0.001, max_value=86400),
    burst=st.integers(min_value=1, max_value=10_000),
)
def test_every_rate_in_the_documented_ranges_is_accepted(
    count: float, period: float, burst: int
) -> None:
    assert RateLimit(count, period, burst).burst == burst


@given(
    count=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=1, max_value=5),
    arrivals=st.lists(st.floats(min_value=0, max_value=5, allow_nan=False), max_size=60),
)
def test_gate_never_exceeds_the_bucket(count: int, burst: int, arrivals: list[float]) -> None:
    """Whatever the arrival times, granted slots fit burst + rate x window."""
    limit = RateLimit(count, 1.0, burst)
    gate = ProviderGate(limit)
    slots = sorted(now + (gate.reserve(now) or 0.0) for now in sorted(arrivals))
    for first in range(len(slots)):
        for last in range(first, len(slots)):
            window = slots[last] - slots[first]
            assert last - first + 1 <= burst + window * count + 1e-6


def test_gate_pause_holds_everyone_and_never_shortens() -> None:
    gate = ProviderGate()
    assert gate.reserve(0.0) == 0.0
    gate.pause(10.0, now=0.0)
    gate.pause(2.0, now=1.0)  # a shorter pause does not cut the longer one
    assert gate.paused_for(1.0) == 9.0
    assert gate.reserve(1.0) == 9.0
    assert gate.reserve(1.0, max_pause=5.0) is None
    assert gate.reserve(11.0) == 0.0


def test_twenty_messages_at_ten_per_second_take_nineteen_intervals(
    clock: Any, make_provider: Callable[..., Any], message: Message
) -> None:
    provider = make_provider("p")
    orchestrator = Orchestrator([provider], rate_limits={"p": "10/second"}, clock=clock)
    for _ in range(20):
        assert orchestrator.send(message).success
    assert len(provider.calls) == 20
    assert clock.offset == pytest.approx(1.9)
    assert orchestrator.rate_limits == {"p": RateLimit(10, 1)}


def test_threads_share_one_bucket(make_provider: Callable[..., Any], message: Message) -> None:
    """Four threads sending through one paced provider stay within its rate together."""
    stamps: list[float] = []
    lock = threading.Lock()
    provider = make_provider("p")

    def record(attempt: Any, message: Message) -> None:
        with lock:
            stamps.append(time.monotonic())

    orchestrator = Orchestrator([provider], rate_limits={"p": "200/second"}, on_attempt=record)
    threads = [
        threading.Thread(target=lambda: [orchestrator.send(message) for _ in range(10)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(provider.calls) == 40
    stamps.sort()
    # 40 sends, one slot every 5 ms: the last starts at least 39 slots after the first.
    assert stamps[-1] - stamps[0] >= 39 * 0.005 * 0.99


def test_rate_limited_pauses_the_provider_for_every_sender(
    clock: Any, make_provider: Callable[..., Any], message: Message
) -> None:
    limited = make_provider("p", [ErrorCode.RATE_LIMITED], retry_after=30)
    backup = make_provider("b")
    orchestrator = Orchestrator(
        [limited, backup],
        retry_policies={"p": RetryPolicy(max_attempts=1, max_delay=5)},
        clock=clock,
    )
    first = orchestrator.send(message, trace=True)
    assert first.provider == "b"
    # The next send does not knock on the paused provider's door: it falls back at once.
    second = orchestrator.send(message, trace=True)
    assert second.provider == "b"
    assert len(limited.calls) == 1
    assert second.trace is not None
    held_back = second.trace.attempts[0]
    assert held_back.provider == "p"
    assert held_back.error is not None and held_back.error.code is ErrorCode.RATE_LIMITED
    assert held_back.error.details["paused"] is True
    clock.advance(31)
    assert orchestrator.send(message).provider == "p"
    assert len(limited.calls) == 2


def test_a_short_pause_is_waited_out(
    clock: Any, make_provider: Callable[..., Any], message: Message
) -> None:
    limited = make_provider("p", [ErrorCode.RATE_LIMITED], retry_after=3)
    other = Orchestrator(
        [limited],
        retry_policies={"p": RetryPolicy(max_attempts=2, max_delay=5, retry_on=["RATE_LIMITED"])},
        clock=clock,
    )
    result = other.send(message)
    assert result.success
    assert clock.offset == pytest.approx(3)


def test_retry_policies_override_the_providers_own(
    clock: Any, make_provider: Callable[..., Any], message: Message
) -> None:
    provider = make_provider("p", [ErrorCode.PROVIDER_UNAVAILABLE] * 2)
    provider.retry_policy = RetryPolicy(max_attempts=1)
    orchestrator = Orchestrator(
        [provider], retry_policies={"p": RetryPolicy(max_attempts=3)}, clock=clock
    )
    assert orchestrator.send(message).success
    assert len(provider.calls) == 3


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"rate_limits": {"q": "1/s"}}, "rate_limits names provider.*'q'"),
        ({"rate_limits": {"p": "often"}}, r"rate_limits\['p'\]: invalid rate limit 'often'"),
        ({"rate_limits": ["1/s"]}, "rate_limits must map"),
        ({"retry_policies": {"p": {"max_attempts": 2}}}, r"retry_policies\['p'\] must be"),
        ({"retry_policies": {"x": RetryPolicy()}}, "retry_policies names provider.*'x'"),
    ],
)
def test_per_provider_arguments_are_checked(
    make_provider: Callable[..., Any], kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigurationError, match=expected):
        Orchestrator([make_provider("p")], **kwargs)


def test_rate_limited_without_retry_after_does_not_pause(
    clock: Any, message: Message
) -> None:
    class Refusing:
        name = "r"
        calls = 0

        def send(self, message: Message) -> DeliveryResult:
            self.calls += 1
            return DeliveryResult.failed("r", ErrorCode.RATE_LIMITED, "slow down")

        def health(self) -> Any:
            from broadcastio import ProviderHealth

            return ProviderHealth("r", True)

    refusing = Refusing()
    orchestrator = Orchestrator([refusing], clock=clock)  # type: ignore[list-item]
    orchestrator.send(message)
    orchestrator.send(message)
    assert refusing.calls == 2

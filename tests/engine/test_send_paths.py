"""``Orchestrator.send``'s common case runs on a path of its own (issue 15); it must agree.

The common case is no deadline, a plain recipient, no rate limit and a first
provider fresh and ready in the health cache. Its first attempt then runs
inline in ``send``; the general path (``_walk`` and the retry loop) takes over
after a failed one. A first send has nothing cached yet and takes the general
path; an orchestrator whose cache was filled (``health()``) takes the short
one. Whatever the providers answer, both must give the same result, trace and
observer calls.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcastio import (
    DeliveryAttempt,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.records.result import EARLIER_TIMEOUT
from tests.conftest import FakeClock

# What a step of a provider's script does.
DELIVER = "deliver"
RAISE = "raise"
NOT_A_RESULT = "not a result"
OTHER_NAME = "other name"
BAD_TEXT_ID = "bad text id"
NO_ERROR = "failure without error"
FAILURES = [
    ErrorCode.TIMEOUT,
    ErrorCode.RATE_LIMITED,
    ErrorCode.PROVIDER_UNAVAILABLE,
    ErrorCode.PROVIDER_REJECTED,
    ErrorCode.INVALID_RECIPIENT,
]


class StepProvider(MessageProvider):
    """Answers each send with the next step of its script; delivers once it is done."""

    def __init__(self, name: str, script: list[Any], ready: bool) -> None:
        self.name = name  # type: ignore[misc]
        self.script = list(script)
        self.ready = ready
        self.sends = 0

    def send(self, message: Message) -> Any:
        self.sends += 1
        step = self.script.pop(0) if self.script else DELIVER
        if step == DELIVER:
            return DeliveryResult.delivered(self.name, f"{self.name}-{self.sends}", n=self.sends)
        if step == RAISE:
            raise RuntimeError(f"{self.name} broke")
        if step == NOT_A_RESULT:
            return None
        if step == OTHER_NAME:
            return DeliveryResult.delivered("someone-else", "x-1")
        if step == BAD_TEXT_ID:
            return DeliveryResult.delivered(self.name, "id-\udc80")
        if step == NO_ERROR:
            return DeliveryResult(success=False, provider=self.name)
        return DeliveryResult.failed(self.name, step, f"{self.name}: {step}", retry_after=0.5)

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, self.ready, {"reason": "scripted"})


steps = st.sampled_from([DELIVER, RAISE, NOT_A_RESULT, OTHER_NAME, BAD_TEXT_ID, NO_ERROR])
chains = st.lists(
    st.tuples(st.lists(steps | st.sampled_from(FAILURES), max_size=3), st.booleans()),
    min_size=1,
    max_size=3,
)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=3),
    backoff=st.just("fixed"),
    base_delay=st.sampled_from([0.0, 0.25]),
    retry_on=st.sets(st.sampled_from(FAILURES)).map(frozenset),
)


def run(
    chain: list[tuple[list[Any], bool]], policy: RetryPolicy, trace: bool, warm: bool
) -> tuple[DeliveryResult, list[tuple[str, Any]], FakeClock]:
    providers = [
        StepProvider(f"p{index}", script, ready) for index, (script, ready) in enumerate(chain)
    ]
    heard: list[tuple[str, Any]] = []
    clock = FakeClock()
    orchestrator = Orchestrator(
        providers,
        retry_policy=policy,
        clock=clock,
        on_attempt=lambda attempt: heard.append(("attempt", attempt)),
        on_success=lambda result: heard.append(("success", result)),
        on_failure=lambda result: heard.append(("failure", result)),
    )
    if warm:
        orchestrator.health()  # the first provider's report is cached: the short path
    return orchestrator.send(Message("+15551234567", "hi"), trace=trace), heard, clock


def without_trace_id(value: Any) -> Any:
    if isinstance(value, DeliveryResult) and value.trace is not None:
        return attrs.evolve(value, trace=attrs.evolve(value.trace, trace_id="-"))
    return value


@settings(max_examples=150, deadline=None)
@given(chain=chains, policy=policies, trace=st.booleans())
def test_the_short_path_and_the_general_path_agree(
    chain: list[tuple[list[Any], bool]], policy: RetryPolicy, trace: bool
) -> None:
    general, general_heard, general_clock = run(chain, policy, trace, warm=False)
    short, short_heard, short_clock = run(chain, policy, trace, warm=True)
    assert without_trace_id(short) == without_trace_id(general)
    assert [(kind, without_trace_id(item)) for kind, item in short_heard] == [
        (kind, without_trace_id(item)) for kind, item in general_heard
    ]
    assert short_clock.sleeps == general_clock.sleeps
    if trace:
        assert short.trace is not None and len(short.trace.trace_id) == 32


def test_a_provider_answering_garbage_on_the_short_path_is_a_failed_attempt() -> None:
    broken = StepProvider("broken", [NOT_A_RESULT], ready=True)
    backup = StepProvider("backup", [], ready=True)
    orchestrator = Orchestrator([broken, backup])
    orchestrator.health()
    result = orchestrator.send(Message("+15551234567", "hi"), trace=True)
    assert result.success and result.provider == "backup"
    assert result.providers_tried == ("broken", "backup")
    assert result.trace is not None
    first = result.trace.attempts[0]
    assert first.error is not None and first.error.code is ErrorCode.UNKNOWN
    assert "returned NoneType, expected DeliveryResult" in first.error.message


class TickingClock:
    """Wall time that moves a millisecond at every read, and monotonic time ``step`` per read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.reads = 0
        self.elapsed = 0.0

    def now(self) -> dt.datetime:
        self.reads += 1
        return dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc) + dt.timedelta(
            milliseconds=self.reads
        )

    def monotonic(self) -> float:
        self.elapsed += self.step
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += seconds


def traced_send(clock: TickingClock) -> tuple[DeliveryAttempt, Any]:
    provider = StepProvider("p", [], ready=True)
    orchestrator = Orchestrator([provider], clock=clock)
    orchestrator.health()
    clock.reads = 0
    trace = orchestrator.send(Message("+15551234567", "hi"), trace=True).trace
    assert trace is not None
    (attempt,) = trace.attempts
    return attempt, trace


def test_stamps_within_a_microsecond_of_the_last_read_are_that_read() -> None:
    """A wall-clock read costs a tenth of a traced send; within its resolution it says
    nothing new, so a send that all happens within it reads the clock once."""
    clock = TickingClock(step=1e-8)
    attempt, trace = traced_send(clock)
    assert clock.reads == 1
    assert trace.started_at == attempt.started_at == attempt.finished_at == trace.finished_at


def test_stamps_further_apart_are_each_read() -> None:
    clock = TickingClock(step=2e-6)
    attempt, trace = traced_send(clock)
    assert clock.reads == 4
    assert trace.started_at < attempt.started_at < attempt.finished_at < trace.finished_at
    assert attempt.duration_ms > 0


@settings(max_examples=150, deadline=None)
@given(chain=chains, policy=policies, warm=st.booleans())
def test_a_failure_after_a_timeout_says_so_traced_or_not(
    chain: list[tuple[list[Any], bool]], policy: RetryPolicy, warm: bool
) -> None:
    """The final error names the last provider whose attempt timed out, when the final
    code is another: the message may have gone out (a broadcast's ``ambiguous``)."""
    traced, _, _ = run(chain, policy, trace=True, warm=warm)
    untraced, _, _ = run(chain, policy, trace=False, warm=warm)
    assert traced.trace is not None
    assert attrs.evolve(traced, trace=None) == untraced
    if traced.success:
        return
    error = traced.error
    assert error is not None
    timed_out = [
        attempt.provider
        for attempt in traced.trace.attempts
        if attempt.error is not None and attempt.error.code is ErrorCode.TIMEOUT
    ]
    if error.code is ErrorCode.TIMEOUT or not timed_out:
        assert EARLIER_TIMEOUT not in error.details
    else:
        assert error.details[EARLIER_TIMEOUT] == timed_out[-1]
        last = traced.trace.attempts[-1].error
        assert last is not None and error.code is last.code


class _OddResults(MessageProvider):
    """A provider whose channel takes the message, then reports it with odd values."""

    def __init__(self, name: str, build: Any) -> None:
        self.name = name
        self.build = build
        self.sends = 0

    def send(self, message: Message) -> DeliveryResult:
        self.sends += 1
        result: DeliveryResult = self.build(self.name)
        return result

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def test_a_providers_odd_values_in_the_shorthands_never_raise_out_of_send() -> None:
    """Regression: the shorthands' quick checks raised ValidationError inside send().

    The engine re-raises a ``BroadcastioError`` as the caller's misuse, so a
    message the channel had taken came back as an exception (a broadcast
    recorded it failed), and a failure never fell back to the next provider.
    """
    took = _OddResults("took", lambda name: DeliveryResult.delivered(name, 12345))
    result = Orchestrator([took]).send(Message("+15551234567", "hi"))
    assert result.success and result.provider == "took" and took.sends == 1

    slow = _OddResults(
        "slow",
        lambda name: DeliveryResult.failed(name, ErrorCode.PROVIDER_UNAVAILABLE, OSError("down")),
    )
    backup = _OddResults("backup", lambda name: DeliveryResult.delivered(name, "b-1"))
    result = Orchestrator([slow, backup]).send(Message("+15551234567", "hi"))
    assert result.success and result.provider == "backup"
    assert result.providers_tried == ("slow", "backup")

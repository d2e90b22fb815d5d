"""The whole-send deadline: a send ends when its time is up, whatever the providers do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    RateLimit,
    RetryPolicy,
    ValidationError,
)
from broadcastio.engine.deadline import BoundedCaller, CallTimedOut

# Long enough never to end on its own during a test, short enough that a
# broken deadline shows up as a slow failure rather than a hung suite.
HANG = 30.0


class Hanging(MessageProvider):
    """A provider whose send() or health() blocks until the test releases it."""

    def __init__(self, name: str, *, hang_send: bool = True, hang_health: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.hang_send = hang_send
        self.hang_health = hang_health
        self.release = threading.Event()
        self.sends = 0

    def send(self, message: Message) -> DeliveryResult:
        self.sends += 1
        if self.hang_send:
            self.release.wait(HANG)
        return DeliveryResult.delivered(self.name, "late")

    def health(self) -> ProviderHealth:
        if self.hang_health:
            self.release.wait(HANG)
        return ProviderHealth(self.name, True)


@pytest.fixture
def hanging() -> Iterator[list[Hanging]]:
    created: list[Hanging] = []
    yield created
    for provider in created:
        provider.release.set()


def test_an_attempt_that_never_answers_ends_as_timeout_at_the_deadline(
    hanging: list[Hanging], message: Message
) -> None:
    stuck = Hanging("stuck")
    hanging.append(stuck)
    orchestrator = Orchestrator([stuck], health_ttl=None)
    result = orchestrator.send(message, timeout=0.2, trace=True)
    assert not result.success
    assert result.error is not None
    assert result.error.code is ErrorCode.TIMEOUT
    assert result.error.details["deadline_reached"] is True
    assert result.error.details["timeout"] == 0.2
    assert "did not answer before the send deadline of 0.2s" in result.error.message
    assert result.providers_tried == ("stuck",)
    assert result.trace is not None and [a.provider for a in result.trace.attempts] == ["stuck"]


def test_the_orchestrators_timeout_is_the_default_and_send_can_replace_it(
    hanging: list[Hanging], message: Message, make_provider
) -> None:
    stuck = Hanging("stuck")
    hanging.append(stuck)
    orchestrator = Orchestrator([stuck], timeout=0.1)
    assert orchestrator.timeout == 0.1
    result = orchestrator.send(message)
    assert result.error is not None and result.error.details["timeout"] == 0.1
    result = orchestrator.send(message, timeout=0.15)
    assert result.error is not None and result.error.details["timeout"] == 0.15


def test_a_hung_provider_does_not_stop_the_fallback_when_time_is_left(
    hanging: list[Hanging], message: Message, make_provider
) -> None:
    # The first provider's health never answers: within the deadline it counts as
    # not ready, and the next provider delivers.
    stuck = Hanging("stuck", hang_send=False, hang_health=True)
    hanging.append(stuck)
    backup = make_provider("backup")
    orchestrator = Orchestrator([stuck, backup])
    result = orchestrator.send(message, timeout=0.3, trace=True)
    assert result.success and result.provider == "backup"
    assert stuck.sends == 0
    assert result.trace is not None
    (skipped,) = result.trace.skipped
    assert skipped.provider == "stuck" and skipped.details["timed_out"] is True
    assert "did not answer" in skipped.details["reason"]


def test_a_back_off_past_the_deadline_is_not_slept(message: Message, make_provider, clock) -> None:
    flaky = make_provider("flaky", [ErrorCode.PROVIDER_UNAVAILABLE] * 3)
    policy = RetryPolicy(max_attempts=3, backoff="fixed", base_delay=10)
    orchestrator = Orchestrator([flaky], retry_policy=policy, clock=clock)
    result = orchestrator.send(message, timeout=5)
    assert clock.sleeps == []  # the retry was due after the deadline: no pointless wait
    assert len(flaky.calls) == 1
    assert result.error is not None
    # The attempt really failed (nothing went out), so the code stays: not an ambiguous TIMEOUT.
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["deadline_reached"] is True
    assert result.error.details["native"] == "flaky-error"
    assert "then the send deadline of 5s was reached before the next attempt of 'flaky'" in (
        result.error.message
    )


def test_a_back_off_within_the_deadline_is_slept(message: Message, make_provider, clock) -> None:
    flaky = make_provider("flaky", [ErrorCode.PROVIDER_UNAVAILABLE])
    policy = RetryPolicy(max_attempts=2, backoff="fixed", base_delay=1)
    result = Orchestrator([flaky], retry_policy=policy, clock=clock).send(message, timeout=5)
    assert result.success and clock.sleeps == [1]


def test_a_rate_limit_slot_past_the_deadline_is_not_booked(
    message: Message, make_provider, clock
) -> None:
    paced = make_provider("paced")
    backup = make_provider("backup")
    orchestrator = Orchestrator(
        [paced, backup], rate_limits={"paced": RateLimit(1, 60)}, clock=clock, health_ttl=None
    )
    assert orchestrator.send(message, timeout=5).provider == "paced"
    # The next slot is 60 s away, past this send's 5 s: it ends without waiting or
    # trying the next provider, and the slot stays free for a send that can wait.
    result = orchestrator.send(message, timeout=5)
    assert not result.success and clock.sleeps == []
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "waiting for a rate-limit slot of 'paced'" in result.error.message
    assert backup.calls == []
    assert orchestrator.send(message, timeout=120).provider == "paced"
    assert clock.sleeps == [60]


def test_no_time_left_before_the_first_provider(message: Message, make_provider, clock) -> None:
    slow_health = make_provider("slow")

    def health() -> ProviderHealth:
        clock.advance(10)  # the (fake) health check ate the whole deadline
        return ProviderHealth("slow", False, {"reason": "starting"})

    slow_health.health = health  # type: ignore[method-assign]
    second = make_provider("second")
    orchestrator = Orchestrator([slow_health, second], clock=clock, health_ttl=None)
    result = orchestrator.send(message, timeout=5)
    assert not result.success and second.calls == [] and slow_health.calls == []
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "no provider was attempted" in result.error.message


def test_without_a_deadline_nothing_changes(message: Message, make_provider) -> None:
    ok = make_provider("ok")
    orchestrator = Orchestrator([ok])
    assert orchestrator.timeout is None
    assert orchestrator.send(message).provider == "ok"


def test_what_a_bounded_attempt_raises_is_raised(message: Message) -> None:
    class Misused(MessageProvider):
        name = "misused"

        def send(self, message: Message) -> DeliveryResult:
            raise ValidationError("the provider says the message is malformed")

        def health(self) -> ProviderHealth:
            return ProviderHealth(self.name, True)

    with pytest.raises(ValidationError, match="malformed"):
        Orchestrator([Misused()]).send(message, timeout=5)


class ThreadNoting(MessageProvider):
    """Delivers at once and notes the thread each send ran on."""

    name = "noting"

    def __init__(self, *, returns_promptly: bool) -> None:
        self.returns_promptly = returns_promptly
        self.threads: list[threading.Thread] = []

    def send(self, message: Message) -> DeliveryResult:
        self.threads.append(threading.current_thread())
        return DeliveryResult.delivered(self.name, "now")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def test_a_provider_that_returns_promptly_is_called_on_the_sending_thread(
    message: Message,
) -> None:
    # Handing each attempt to another thread only bounds what could block; a
    # provider that cannot (the dummy without latency) is called directly, and
    # the deadline still bounds the send (its retries, the chain).
    prompt = ThreadNoting(returns_promptly=True)
    result = Orchestrator([prompt]).send(message, timeout=5)
    assert result.success
    assert prompt.threads == [threading.current_thread()]


def test_a_provider_without_the_attribute_is_bounded_as_before(message: Message) -> None:
    # A provider need not subclass MessageProvider (a name, send and health
    # are enough); the deadline bounds it as any provider, and must not fail on
    # the missing attribute.
    class Plain:
        name = "plain"

        def __init__(self) -> None:
            self.threads: list[threading.Thread] = []

        def send(self, message: Message) -> DeliveryResult:
            self.threads.append(threading.current_thread())
            return DeliveryResult.delivered(self.name, "1")

        def health(self) -> ProviderHealth:
            return ProviderHealth(self.name, True)

    plain = Plain()
    assert Orchestrator([plain]).send(message, timeout=5).success  # type: ignore[list-item]
    assert plain.threads[0] is not threading.current_thread()


def test_any_other_provider_is_called_on_another_thread_under_a_deadline(
    message: Message,
) -> None:
    assert MessageProvider.returns_promptly is False
    other = ThreadNoting(returns_promptly=False)
    orchestrator = Orchestrator([other])
    assert orchestrator.send(message, timeout=5).success
    assert orchestrator.send(message).success  # no deadline: no other thread
    assert [t is threading.current_thread() for t in other.threads] == [False, True]


@given(
    st.one_of(
        st.just(0),
        st.floats(max_value=0),
        st.floats(min_value=86_400, exclude_min=True),
        st.just(float("nan")),
        st.booleans(),
        st.text(max_size=3),
    )
)
def test_a_bad_timeout_is_refused_naming_it(value: object) -> None:
    provider = Hanging("x", hang_send=False)
    with pytest.raises(ConfigurationError, match="^timeout must be a number of seconds"):
        Orchestrator([provider], timeout=value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="^timeout must be a number of seconds"):
        Orchestrator([provider]).send(Message("+1555", "hi"), timeout=value)  # type: ignore[arg-type]


def test_a_broadcasts_stop_is_not_held_by_a_hung_provider(hanging: list[Hanging]) -> None:
    stuck = Hanging("stuck")
    hanging.append(stuck)
    orchestrator = Orchestrator([stuck], timeout=0.2)
    stop = threading.Event()
    messages = (Message(f"+1555000{index:04d}", "hi") for index in range(100))
    outcomes = []
    with orchestrator.iter_broadcast(messages, concurrency=2, stop=stop) as run:
        for outcome in run:
            outcomes.append(outcome)
            stop.set()
    assert run.report.interrupted
    # The sends under way when stop was set ended at their deadline, and no more began.
    sent = [o.result for o in outcomes if o.result is not None]
    assert 1 <= len(sent) <= 4
    assert {r.error.code for r in sent if r.error is not None} == {ErrorCode.TIMEOUT}
    assert all(not r.success for r in sent)


def test_the_bounded_caller_reuses_its_workers() -> None:
    caller = BoundedCaller(name="test-bounded")
    before = threading.active_count()
    for number in range(50):
        assert caller.call(lambda number=number: number * 2, 5) == number * 2
    assert threading.active_count() <= before + 2
    release = threading.Event()
    with pytest.raises(CallTimedOut):
        caller.call(lambda: release.wait(HANG), 0.05)
    # A stuck worker does not block the next call: another worker takes it.
    assert caller.call(lambda: "next", 5) == "next"
    release.set()
    with pytest.raises(KeyError):
        caller.call(lambda: {}["missing"], 5)


def test_no_attempt_starts_with_almost_no_time_left(message: Message, make_provider, clock) -> None:
    # The back-off ends 0.5 ms before the deadline: an attempt started then would be
    # cut off at once and reported as an ambiguous TIMEOUT although it may deliver.
    flaky = make_provider("flaky", [ErrorCode.PROVIDER_UNAVAILABLE])
    policy = RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.2995)
    result = Orchestrator([flaky], retry_policy=policy, clock=clock).send(message, timeout=0.3)
    assert clock.sleeps == [] and len(flaky.calls) == 1
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["deadline_reached"] is True


def test_a_bad_orchestrator_timeout_keeps_its_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        Orchestrator([Hanging("x", hang_send=False)], timeout=-1)
    assert info.value.field == "timeout"
    assert info.value.message.startswith("timeout must be a number of seconds")


def test_a_provider_paused_past_the_deadline_falls_back_to_the_next(
    message: Message, make_provider, clock
) -> None:
    # A WhatsApp cap: the bridge answers RATE_LIMITED with an hour to wait. Neither
    # that send nor the next one (the provider still paused) can wait an hour within
    # 5 s, so both go to the next channel instead of ending without trying it.
    capped = make_provider("capped", [ErrorCode.RATE_LIMITED], retry_after=3600)
    backup = make_provider("backup")
    policy = RetryPolicy(max_attempts=3, retry_on=frozenset({ErrorCode.RATE_LIMITED}))
    orchestrator = Orchestrator([capped, backup], retry_policy=policy, clock=clock, health_ttl=None)

    first = orchestrator.send(message, timeout=5)
    second = orchestrator.send(message, timeout=5)

    assert first.provider == "backup" and second.provider == "backup"
    assert len(capped.calls) == 1  # paused: not asked again during its pause
    assert clock.sleeps == []


def test_a_paused_provider_alone_answers_rate_limited_with_the_time_left(
    message: Message, make_provider, clock
) -> None:
    capped = make_provider("capped", [ErrorCode.RATE_LIMITED], retry_after=3600)
    orchestrator = Orchestrator([capped], clock=clock, health_ttl=None)
    orchestrator.send(message, timeout=5)
    clock.advance(600)

    result = orchestrator.send(message, timeout=5)

    # What the provider would say, so a broadcast can wait it out (not a deadline
    # failure that reads PROVIDER_UNAVAILABLE).
    assert result.error is not None and result.error.code is ErrorCode.RATE_LIMITED
    assert result.error.details["retry_after"] == pytest.approx(3000)
    assert len(capped.calls) == 1 and clock.sleeps == []

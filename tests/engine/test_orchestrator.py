"""Orchestrator: validation, routing, retries before fallback, failures as results."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from broadcastio import (
    Attachment,
    AttachmentError,
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    OrchestrationError,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
    ValidationError,
)

UNAVAILABLE = ErrorCode.PROVIDER_UNAVAILABLE


def test_empty_provider_list_is_an_orchestration_error() -> None:
    with pytest.raises(OrchestrationError, match="at least one provider") as info:
        Orchestrator([])
    assert info.value.code is ErrorCode.NO_PROVIDERS


def test_duplicate_provider_names_are_rejected(make_provider) -> None:
    with pytest.raises(ConfigurationError, match="appears twice"):
        Orchestrator([make_provider("a"), make_provider("a")])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retry_policy": {"max_attempts": 3}}, "retry_policy must be a RetryPolicy"),
        ({"health_ttl": -1}, "health_ttl"),
        ({"health_ttl": "30"}, "health_ttl"),
        ({"health_ttl": 10**400}, "health_ttl must be .* got a huge number"),
        ({"health_ttl": float("inf")}, "health_ttl"),
        ({"health_ttl": 86_401}, "from 0 to 86400"),
        ({"on_attempt": "print"}, "on_attempt must be callable"),
    ],
)
def test_bad_constructor_arguments_are_named(make_provider, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Orchestrator([make_provider("a")], **kwargs)


def test_objects_that_are_not_providers_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="has no name"):
        Orchestrator([object()])  # type: ignore[list-item]


def test_send_requires_a_message(make_provider) -> None:
    with pytest.raises(ValidationError, match="expects a Message"):
        Orchestrator([make_provider("a")]).send({"recipient": "x"})  # type: ignore[arg-type]


def test_missing_attachment_file_raises_before_any_attempt(make_provider, tmp_path: Path) -> None:
    provider = make_provider("a")
    message = Message("+1555", "see file", attachment=Attachment(tmp_path / "gone.pdf"))
    with pytest.raises(AttachmentError, match="gone.pdf") as info:
        Orchestrator([provider]).send(message)
    assert info.value.code is ErrorCode.ATTACHMENT_NOT_FOUND
    assert provider.calls == []
    assert provider.health_calls == 0


def test_success_through_the_first_provider(make_provider, message) -> None:
    first, second = make_provider("first"), make_provider("second")
    result = Orchestrator([first, second]).send(message)
    assert result.success
    assert result.provider == "first"
    assert result.message_id == "first-1"
    assert result.error is None
    assert result.providers_tried == ("first",)
    assert result.trace is None
    assert second.calls == []


def test_fallback_to_the_next_provider(make_provider, message) -> None:
    first = make_provider("first", [ErrorCode.PROVIDER_REJECTED])
    second = make_provider("second")
    result = Orchestrator([first, second]).send(message)
    assert result.success and result.provider == "second"
    assert result.providers_tried == ("first", "second")


def test_retries_happen_before_fallback(make_provider, message, clock) -> None:
    first = make_provider("first", [UNAVAILABLE, UNAVAILABLE])
    second = make_provider("second")
    orchestrator = Orchestrator(
        [first, second], retry_policy=RetryPolicy(max_attempts=3), clock=clock
    )
    result = orchestrator.send(message)
    assert result.provider == "first"
    assert len(first.calls) == 3
    assert second.calls == []


def test_fallback_after_retries_are_exhausted(make_provider, message, clock) -> None:
    first = make_provider("first", [UNAVAILABLE] * 5)
    second = make_provider("second")
    orchestrator = Orchestrator(
        [first, second], retry_policy=RetryPolicy(max_attempts=2), clock=clock
    )
    result = orchestrator.send(message, trace=True)
    assert result.provider == "second"
    assert len(first.calls) == 2
    assert [(a.provider, a.attempt, a.success) for a in result.trace.attempts] == [
        ("first", 1, False),
        ("first", 2, False),
        ("second", 1, True),
    ]


def test_default_policy_never_retries(make_provider, message) -> None:
    first = make_provider("first", [UNAVAILABLE])
    second = make_provider("second")
    Orchestrator([first, second]).send(message)
    assert len(first.calls) == 1


def test_only_provider_unavailable_is_retried_by_default(make_provider, message, clock) -> None:
    first = make_provider("first", [ErrorCode.TIMEOUT])
    second = make_provider("second")
    Orchestrator([first, second], retry_policy=RetryPolicy(max_attempts=3), clock=clock).send(
        message
    )
    assert len(first.calls) == 1


def test_retry_on_lists_exactly_the_retried_codes(make_provider, message, clock) -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=[ErrorCode.TIMEOUT])
    timeout = make_provider("timeout", [ErrorCode.TIMEOUT])
    Orchestrator([timeout], retry_policy=policy, clock=clock).send(message)
    assert len(timeout.calls) == 2
    unavailable = make_provider("unavailable", [UNAVAILABLE, UNAVAILABLE])
    result = Orchestrator([unavailable], retry_policy=policy, clock=clock).send(message)
    assert len(unavailable.calls) == 1
    assert not result.success


def test_provider_retry_policy_overrides_the_default(make_provider, message, clock) -> None:
    stubborn = make_provider("stubborn", [UNAVAILABLE] * 3)
    stubborn.retry_policy = RetryPolicy(max_attempts=4)
    plain = make_provider("plain", [UNAVAILABLE] * 3)
    orchestrator = Orchestrator(
        [stubborn, plain], retry_policy=RetryPolicy(max_attempts=2), clock=clock
    )
    assert orchestrator.send(message).provider == "stubborn"
    assert len(stubborn.calls) == 4
    assert plain.calls == []


def test_provider_class_attribute_retry_policy(message, clock) -> None:
    from broadcastio_dummy import DummyProvider

    class Patient(DummyProvider):
        retry_policy = RetryPolicy(max_attempts=3)

    provider = Patient(fail_first=2)
    assert Orchestrator([provider], clock=clock).send(message).success
    assert provider.send_count == 3


def test_backoff_waits_go_through_the_clock(make_provider, message, clock) -> None:
    provider = make_provider("p", [UNAVAILABLE] * 4)
    policy = RetryPolicy(max_attempts=5, backoff="exponential", base_delay=0.5, max_delay=3)
    result = Orchestrator([provider], retry_policy=policy, clock=clock).send(message)
    assert result.success
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0]


def test_fixed_backoff(make_provider, message, clock) -> None:
    provider = make_provider("p", [UNAVAILABLE] * 2)
    policy = RetryPolicy(max_attempts=3, backoff="fixed", base_delay=2)
    Orchestrator([provider], retry_policy=policy, clock=clock).send(message)
    assert clock.sleeps == [2, 2]


def test_jitter_uses_the_injected_rng(make_provider, message, clock) -> None:
    provider = make_provider("p", [UNAVAILABLE] * 2)
    policy = RetryPolicy(max_attempts=3, backoff="fixed", base_delay=10, jitter=True)
    Orchestrator([provider], retry_policy=policy, clock=clock, rng=random.Random(3)).send(message)
    expected = random.Random(3)
    assert clock.sleeps == [expected.uniform(0, 10), expected.uniform(0, 10)]


def test_rate_limited_retry_waits_at_least_retry_after(make_provider, message, clock) -> None:
    provider = make_provider("p", [ErrorCode.RATE_LIMITED], retry_after=7)
    policy = RetryPolicy(
        max_attempts=2, backoff="fixed", base_delay=1, max_delay=10, retry_on=["RATE_LIMITED"]
    )
    result = Orchestrator([provider], retry_policy=policy, clock=clock).send(message)
    assert result.success
    assert clock.sleeps == [7]


def test_retry_after_longer_than_max_delay_fails_over(make_provider, message, clock) -> None:
    limited = make_provider("limited", [ErrorCode.RATE_LIMITED], retry_after=120)
    backup = make_provider("backup")
    policy = RetryPolicy(
        max_attempts=3, backoff="fixed", base_delay=1, max_delay=30, retry_on=["RATE_LIMITED"]
    )
    result = Orchestrator([limited, backup], retry_policy=policy, clock=clock).send(message)
    assert result.provider == "backup"
    assert len(limited.calls) == 1
    assert clock.sleeps == []


def test_all_failing_returns_the_last_error_and_who_was_tried(make_provider, message) -> None:
    first = make_provider("first", [ErrorCode.TIMEOUT])
    second = make_provider("second", [ErrorCode.INVALID_RECIPIENT])
    result = Orchestrator([first, second]).send(message)
    assert not result.success
    assert result.provider is None
    assert result.providers_tried == ("first", "second")
    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    # The provider's own details, and who timed out before (it may have delivered).
    assert result.error.details == {"native": "second-error", "earlier_timeout": "first"}


def test_unhealthy_providers_are_skipped_and_never_sent_to(make_provider, message, clock) -> None:
    sick = make_provider("sick", ready=False)
    well = make_provider("well")
    orchestrator = Orchestrator([sick, well], retry_policy=RetryPolicy(max_attempts=3), clock=clock)
    result = orchestrator.send(message, trace=True)
    assert result.provider == "well"
    assert sick.calls == []
    assert result.providers_tried == ("well",)
    assert result.trace.skipped == (ProviderHealth("sick", False, {"reason": "scripted"}),)
    assert [a.provider for a in result.trace.attempts] == ["well"]


def test_require_healthy_raises_before_any_attempt(make_provider, message) -> None:
    providers = [make_provider("a", ready=False), make_provider("b", ready=False)]
    orchestrator = Orchestrator(providers, require_healthy=True)
    with pytest.raises(OrchestrationError, match="no healthy provider") as info:
        orchestrator.send(message)
    assert info.value.code is ErrorCode.NO_HEALTHY_PROVIDERS
    assert set(info.value.details["health"]) == {"a", "b"}
    assert all(p.calls == [] for p in providers)


def test_without_require_healthy_all_are_tried_when_none_is_healthy(make_provider, message) -> None:
    a = make_provider("a", [ErrorCode.PROVIDER_UNAVAILABLE], ready=False)
    b = make_provider("b", ready=False)
    result = Orchestrator([a, b]).send(message, trace=True)
    assert result.success and result.provider == "b"
    assert result.providers_tried == ("a", "b")
    assert result.trace.skipped == ()


def test_require_healthy_still_sends_when_one_is_healthy(make_provider, message) -> None:
    result = Orchestrator(
        [make_provider("a", ready=False), make_provider("b")], require_healthy=True
    ).send(message)
    assert result.provider == "b"


def test_health_that_raises_counts_as_not_ready(make_provider, message) -> None:
    broken = make_provider("broken")
    broken.health = lambda: (_ for _ in ()).throw(RuntimeError("probe exploded"))
    well = make_provider("well")
    result = Orchestrator([broken, well]).send(message, trace=True)
    assert result.provider == "well"
    assert broken.calls == []
    (skipped,) = result.trace.skipped
    assert skipped.provider == "broken" and not skipped.ready
    assert "probe exploded" in skipped.details["error"]


def test_health_that_returns_garbage_counts_as_not_ready(make_provider, message) -> None:
    odd = make_provider("odd")
    odd.health = lambda: True
    with pytest.raises(OrchestrationError):
        Orchestrator([odd], require_healthy=True).send(message)


def test_provider_exception_is_a_failed_attempt_and_the_chain_goes_on(
    make_provider, message
) -> None:
    crashing = make_provider("crashing", [KeyError("boom")])
    backup = make_provider("backup")
    result = Orchestrator([crashing, backup]).send(message, trace=True)
    assert result.provider == "backup"
    error = result.trace.attempts[0].error
    assert error.code is ErrorCode.UNKNOWN
    assert error.details["exception_type"] == "KeyError"
    assert "boom" in error.details["exception"]


def test_broadcastio_errors_from_a_provider_propagate(make_provider, message) -> None:
    misconfigured = make_provider("m", [ConfigurationError("no api key")])
    backup = make_provider("backup")
    with pytest.raises(ConfigurationError, match="no api key"):
        Orchestrator([misconfigured, backup]).send(message)
    assert backup.calls == []


def test_provider_returning_garbage_is_a_failed_attempt(make_provider, message) -> None:
    odd = make_provider("odd")
    odd.send = lambda m: "sent!"
    result = Orchestrator([odd]).send(message)
    assert result.error.code is ErrorCode.UNKNOWN
    assert "returned str" in result.error.message


def test_failure_without_an_error_gets_one(make_provider, message) -> None:
    odd = make_provider("odd")
    odd.send = lambda m: DeliveryResult(success=False, provider="odd")
    result = Orchestrator([odd]).send(message)
    assert result.error.code is ErrorCode.UNKNOWN


def test_result_provider_is_the_chain_name(make_provider, message) -> None:
    liar = make_provider("liar")
    liar.send = lambda m: DeliveryResult.delivered("someone-else", "id-1")
    assert Orchestrator([liar]).send(message).provider == "liar"


def test_from_dict_of_results_from_every_path_round_trip(make_provider, message, clock) -> None:
    providers = [
        make_provider("sick", ready=False),
        make_provider("flaky", [UNAVAILABLE, KeyError("x")]),
        make_provider("last", [ErrorCode.RATE_LIMITED], retry_after=2),
    ]
    orchestrator = Orchestrator(providers, retry_policy=RetryPolicy(max_attempts=2), clock=clock)
    for _ in range(2):
        result = orchestrator.send(message, trace=True)
        assert DeliveryResult.from_dict(result.to_dict()) == result


def test_duck_typed_provider_without_retry_policy(message) -> None:
    class Duck:
        name = "duck"

        def send(self, message: Message) -> DeliveryResult:
            return DeliveryResult.failed("duck", ErrorCode.PROVIDER_UNAVAILABLE, "down")

        def health(self) -> ProviderHealth:
            return ProviderHealth("duck", True)

    result = Orchestrator([Duck()], retry_policy=RetryPolicy(max_attempts=2)).send(message)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_provider_with_a_bad_retry_policy_is_rejected(make_provider) -> None:
    provider = make_provider("p")
    provider.retry_policy = {"max_attempts": 2}
    with pytest.raises(ConfigurationError, match="provider 'p' has a retry_policy that is not"):
        Orchestrator([provider])


def test_provider_class_instead_of_instance_is_rejected() -> None:
    from broadcastio_dummy import DummyProvider

    with pytest.raises(ConfigurationError, match=r"class DummyProvider.*DummyProvider\(\)"):
        Orchestrator([DummyProvider])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"require_healthy": "no"}, "require_healthy must be true or false"),
        ({"clock": 5}, "clock must have now"),
        ({"rng": 5}, "rng must be a random.Random"),
    ],
)
def test_more_bad_constructor_arguments(make_provider, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Orchestrator([make_provider("a")], **kwargs)


def test_absurd_retry_after_fails_over_instead_of_sleeping(make_provider, message, clock) -> None:
    limited = make_provider("limited", [ErrorCode.RATE_LIMITED], retry_after=float("inf"))
    backup = make_provider("backup")
    policy = RetryPolicy(max_attempts=2, retry_on=["RATE_LIMITED"])
    result = Orchestrator([limited, backup], retry_policy=policy, clock=clock).send(message)
    assert result.provider == "backup"
    assert clock.sleeps == []


def test_uncapped_exponential_backoff_gives_up_past_a_day(make_provider, message, clock) -> None:
    provider = make_provider("p", [ErrorCode.PROVIDER_UNAVAILABLE] * 40)
    backup = make_provider("backup")
    policy = RetryPolicy(max_attempts=40, backoff="exponential", base_delay=1)
    result = Orchestrator([provider, backup], retry_policy=policy, clock=clock).send(message)
    assert result.provider == "backup"
    assert max(clock.sleeps) <= 86_400
    assert len(provider.calls) == 18  # waits 1, 2, 4 ... 65536 s; the next would exceed a day


def test_the_field_order_the_send_path_relies_on() -> None:
    """Orchestrator.send builds these records positionally, for speed: pin their order."""
    import attrs

    from broadcastio import DeliveryAttempt, DeliveryResult

    assert [field.name for field in attrs.fields(DeliveryResult)] == [
        "success",
        "provider",
        "message_id",
        "error",
        "providers_tried",
        "trace",
        "details",
    ]
    assert [field.name for field in attrs.fields(DeliveryAttempt)] == [
        "provider",
        "attempt",
        "started_at",
        "finished_at",
        "duration_ms",
        "success",
        "error",
        "message_id",
    ]

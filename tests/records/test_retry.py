"""RetryPolicy: validation and the waits it computes."""

from __future__ import annotations

import random

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ErrorCode, RetryPolicy, ValidationError


def test_default_is_one_attempt_without_delay() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 1
    assert policy.backoff == "none"
    assert policy.delay_for(1) == 0.0
    assert policy.retryable_codes == {ErrorCode.PROVIDER_UNAVAILABLE}


def test_policy_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().max_attempts = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts must be between 1 and 100, got 0"),
        ({"max_attempts": 101}, "max_attempts must be between 1 and 100, got 101"),
        ({"max_attempts": 10**400}, "max_attempts must be between 1 and 100, got an integer"),
        ({"max_attempts": 1.5}, "max_attempts must be an integer"),
        ({"max_attempts": True}, "max_attempts must be an integer"),
        ({"backoff": "linear"}, "backoff must be one of"),
        ({"base_delay": -1}, "base_delay must be between 0 and 86400, got -1"),
        ({"base_delay": 86400.5}, "base_delay must be between 0 and 86400, got 86400.5"),
        ({"base_delay": 2**63 - 1}, "base_delay must be between 0 and 86400"),
        ({"base_delay": 10**400}, "base_delay must be between 0 and 86400, got an integer"),
        ({"base_delay": float("nan")}, "base_delay must be a finite number"),
        ({"base_delay": "1"}, "base_delay must be a finite number"),
        ({"max_delay": -1}, "max_delay must be between 0 and 86400"),
        ({"max_delay": 1e9}, "max_delay must be between 0 and 86400"),
        ({"base_delay": 2, "max_delay": 1}, "max_delay .* must be >= base_delay"),
        ({"retry_on": ["NOT_A_CODE"]}, "not an error code"),
        ({"retry_on": "TIMEOUT"}, "retry_on must be a list of error codes"),
        ({"retry_on": 5}, "retry_on must be a list of error codes"),
        ({"jitter": "yes"}, "jitter"),
    ],
)
def test_invalid_policies_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RetryPolicy(**kwargs)


@given(
    max_attempts=st.integers(min_value=1, max_value=100),
    base_delay=st.floats(min_value=0, max_value=86400),
    spread=st.floats(min_value=0, max_value=1),
)
def test_every_value_in_the_documented_ranges_is_accepted(
    max_attempts: int, base_delay: float, spread: float
) -> None:
    # The bounds must not reject what docs/configuration.md promises to accept.
    max_delay = base_delay + (86400 - base_delay) * spread
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay)
    assert policy.max_attempts == max_attempts


def test_retry_on_accepts_codes_and_their_names() -> None:
    policy = RetryPolicy(retry_on=["TIMEOUT", ErrorCode.RATE_LIMITED])
    assert policy.should_retry(ErrorCode.TIMEOUT)
    assert policy.should_retry(ErrorCode.RATE_LIMITED)
    assert not policy.should_retry(ErrorCode.PROVIDER_UNAVAILABLE)
    assert not RetryPolicy(retry_on=[]).should_retry(ErrorCode.PROVIDER_UNAVAILABLE)


def test_fixed_backoff_waits_base_delay() -> None:
    policy = RetryPolicy(max_attempts=4, backoff="fixed", base_delay=1.5)
    assert [policy.delay_for(n) for n in (1, 2, 3)] == [1.5, 1.5, 1.5]


def test_exponential_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, backoff="exponential", base_delay=1, max_delay=5)
    assert [policy.delay_for(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


def test_exponential_backoff_saturates_instead_of_overflowing() -> None:
    policy = RetryPolicy(max_attempts=5, backoff="exponential", base_delay=0.001)
    assert policy.delay_for(10_000) > 1e200


@given(
    base=st.floats(0, 100),
    retry=st.integers(1, 30),
    seed=st.integers(),
)
def test_full_jitter_stays_within_the_computed_delay(base: float, retry: int, seed: int) -> None:
    plain = RetryPolicy(max_attempts=2, backoff="exponential", base_delay=base, max_delay=1000)
    jittered = attrs.evolve(plain, jitter=True)
    delay = jittered.delay_for(retry, random.Random(seed))
    assert 0.0 <= delay <= plain.delay_for(retry)


def test_jitter_is_deterministic_with_a_seeded_rng() -> None:
    policy = RetryPolicy(max_attempts=3, backoff="fixed", base_delay=10, jitter=True)
    first = [policy.delay_for(1, random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1
    assert first[0] != 10

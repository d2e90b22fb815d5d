"""DummyProvider: success with unique ids, scripted failures, health and latency."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from broadcastio import (
    DeliveryResult,
    ErrorCode,
    Message,
    Orchestrator,
    RetryPolicy,
    ValidationError,
)
from broadcastio_dummy import DummyProvider, DummySettings

MESSAGE = Message("+1555", "hi")


def test_success_with_unique_message_ids() -> None:
    provider = DummyProvider()
    ids = {provider.send(MESSAGE).message_id for _ in range(50)}
    assert len(ids) == 50
    assert provider.sent == [MESSAGE] * 50
    assert provider.health().ready


def test_message_ids_keep_the_uuid4_hex_form() -> None:
    # "dummy-" and uuid.uuid4().hex's text, as they always were: made cheaper
    # (issue 15), not different.
    provider = DummyProvider(keep_sent=0)
    ids = [provider.send(MESSAGE).message_id for _ in range(5000)]
    for message_id in ids:
        assert message_id is not None and message_id.startswith("dummy-")
        digits = message_id.removeprefix("dummy-")
        parsed = uuid.UUID(hex=digits)
        assert parsed.hex == digits and parsed.version == 4
    assert len(set(ids)) == len(ids)


def test_fails_the_first_n_sends_with_the_given_code() -> None:
    provider = DummyProvider(fail_first=2, fail_code=ErrorCode.RATE_LIMITED, retry_after=3)
    first, second, third = (provider.send(MESSAGE) for _ in range(3))
    assert not first.success and first.error.code is ErrorCode.RATE_LIMITED
    assert first.error.details == {"call": 1, "retry_after": 3}
    assert not second.success
    assert third.success
    assert provider.send_count == 3
    assert provider.sent == [MESSAGE]


def test_settings_object_and_overrides() -> None:
    provider = DummyProvider(DummySettings(fail_first=1), name="backup")
    assert provider.name == "backup"
    assert provider.settings.fail_first == 1
    with pytest.raises(ValidationError, match="unknown DummyProvider setting"):
        DummyProvider(colour="red")


def test_unhealthy_dummy_is_skipped() -> None:
    sick = DummyProvider(healthy=False, name="sick")
    assert not sick.health().ready
    result = Orchestrator([sick, DummyProvider()]).send(MESSAGE)
    assert result.provider == "dummy"
    assert sick.send_count == 0


def test_latency_is_real() -> None:
    provider = DummyProvider(latency=0.05)
    started = time.perf_counter()
    provider.send(MESSAGE)
    assert time.perf_counter() - started >= 0.05


def test_latency_is_bounded_by_a_send_deadline() -> None:
    # Without latency the dummy returns promptly and is called directly; with
    # it, the send deadline's thread still cuts a slow send short.
    assert DummyProvider().returns_promptly
    slow = DummyProvider(latency=5.0)
    assert not slow.returns_promptly
    started = time.perf_counter()
    result = Orchestrator([slow]).send(MESSAGE, timeout=0.2)
    assert time.perf_counter() - started < 2.0
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT


def test_a_subclass_that_overrides_send_is_bounded_by_a_deadline() -> None:
    # Its send may block: unless it says returns_promptly itself, the deadline
    # runs it on another thread and cuts it short.
    class Stuck(DummyProvider):
        def send(self, message: Message) -> DeliveryResult:
            time.sleep(5.0)
            return super().send(message)

    class SaysSo(DummyProvider):
        returns_promptly = False

    assert not Stuck().returns_promptly and not SaysSo().returns_promptly
    started = time.perf_counter()
    result = Orchestrator([Stuck()]).send(MESSAGE, timeout=0.2)
    assert time.perf_counter() - started < 2.0
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT


def test_failure_counter_is_thread_safe() -> None:
    provider = DummyProvider(fail_first=100)
    orchestrator = Orchestrator([provider], retry_policy=RetryPolicy(max_attempts=1))
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: orchestrator.send(MESSAGE), range(400)))
    assert sum(not r.success for r in results) == 100
    assert len(provider.sent) == 300


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fail_code": "NOPE"}, "fail_code: 'NOPE' is not an error code"),
        ({"fail_first": None}, "fail_first must be an integer"),
        ({"fail_first": 1.5}, "fail_first must be an integer"),
        ({"healthy": "no"}, "healthy must be true or false"),
        ({"retry_after": -1}, "retry_after must be between 0 and 86400, got -1"),
        ({"retry_after": 86401}, "retry_after must be between 0 and 86400, got 86401"),
        ({"latency": "1"}, "latency must be a finite number"),
        ({"latency": -0.5}, "latency must be between 0 and 3600, got -0.5"),
        # Past ~9.2e18 s, time.sleep used to overflow with a traceback in the middle of a send.
        ({"latency": 0x7FFFFFFFFFFFFFFF}, "latency must be between 0 and 3600"),
        ({"latency": 10**400}, "latency must be between 0 and 3600, got an integer of 401"),
        ({"fail_first": -1}, "fail_first must be between 0 and 1000000, got -1"),
        ({"fail_first": 10**12}, "fail_first must be between 0 and 1000000"),
        ({"name": 5}, "name must be a string"),
        ({"fial_first": 1}, "unknown DummyProvider setting.*fial_first"),
    ],
)
def test_bad_dummy_settings_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        DummyProvider(**kwargs)


def test_settings_must_be_a_settings_object() -> None:
    with pytest.raises(ValidationError, match="must be a DummySettings"):
        DummyProvider({"fail_first": 1})  # type: ignore[arg-type]


def test_fail_code_name_is_converted() -> None:
    assert DummyProvider(fail_code="TIMEOUT").settings.fail_code is ErrorCode.TIMEOUT


def test_sent_is_a_bounded_window_of_the_latest_deliveries() -> None:
    provider = DummyProvider(keep_sent=3)
    messages = [Message("+1555", f"m{number}") for number in range(10)]
    for message in messages:
        assert provider.send(message).success

    assert provider.sent == messages[-3:]
    assert provider.delivered_count == 10 and provider.send_count == 10


def test_keep_sent_none_keeps_every_delivery_and_zero_keeps_none() -> None:
    everything, nothing = DummyProvider(keep_sent=None), DummyProvider(keep_sent=0)
    for number in range(20_050):
        everything.send(Message("+1555", f"m{number}"))
    nothing.send(MESSAGE)

    assert len(everything.sent) == 20_050
    assert nothing.sent == [] and nothing.delivered_count == 1


def test_the_default_window_holds_ten_thousand() -> None:
    provider = DummyProvider()
    for _ in range(10_001):
        provider.send(MESSAGE)
    assert len(provider.sent) == 10_000 and provider.delivered_count == 10_001


@pytest.mark.parametrize("keep_sent", [-1, 10_000_001, 1.5, True, "10"])
def test_keep_sent_out_of_range_is_refused(keep_sent: object) -> None:
    with pytest.raises(ValidationError, match="keep_sent"):
        DummyProvider(keep_sent=keep_sent)

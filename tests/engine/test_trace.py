"""Delivery traces: what they record and how they serialize."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    DeliveryAttempt,
    DeliveryError,
    DeliveryResult,
    DeliveryTrace,
    ErrorCode,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
    ValidationError,
)


def test_trace_records_every_attempt_with_timings(make_provider, message, clock) -> None:
    flaky = make_provider("flaky", [ErrorCode.PROVIDER_UNAVAILABLE])
    policy = RetryPolicy(max_attempts=2, backoff="fixed", base_delay=1.5)
    result = Orchestrator([flaky], retry_policy=policy, clock=clock).send(message, trace=True)
    trace = result.trace
    assert isinstance(trace, DeliveryTrace)
    assert trace.success
    assert len(trace.trace_id) == 32 and int(trace.trace_id, 16) >= 0
    first, second = trace.attempts
    assert (first.attempt, first.success, first.error.code) == (1, False, "PROVIDER_UNAVAILABLE")
    assert (second.attempt, second.success, second.error) == (2, True, None)
    assert second.message_id == result.message_id
    assert second.started_at - first.finished_at == dt.timedelta(seconds=1.5)
    assert trace.started_at <= first.started_at <= first.finished_at <= trace.finished_at
    assert all(a.started_at.tzinfo is dt.timezone.utc for a in trace.attempts)


def test_trace_ids_differ(make_provider, message) -> None:
    orchestrator = Orchestrator([make_provider("p")])
    ids = {orchestrator.send(message, trace=True).trace.trace_id for _ in range(100)}
    assert len(ids) == 100


def test_trace_off_means_no_trace(make_provider, message) -> None:
    assert Orchestrator([make_provider("p")]).send(message).trace is None


def test_failed_trace(make_provider, message) -> None:
    result = Orchestrator([make_provider("p", [ErrorCode.TIMEOUT])]).send(message, trace=True)
    assert not result.trace.success
    assert result.trace.attempts[0].error == result.error


def test_to_dict_is_json_with_iso_utc_timestamps(make_provider, message, clock) -> None:
    providers = [make_provider("sick", ready=False), make_provider("p")]
    result = Orchestrator(providers, clock=clock).send(message, trace=True)
    data = json.loads(json.dumps(result.to_dict()))
    trace = data["trace"]
    assert trace["started_at"] == "2026-01-02T03:04:05+00:00"
    assert trace["attempts"][0]["provider"] == "p"
    assert trace["skipped"] == [
        {"provider": "sick", "ready": False, "details": {"reason": "scripted"}}
    ]
    assert DeliveryTrace.from_dict(trace) == result.trace
    assert DeliveryResult.from_dict(data) == result


def test_from_dict_accepts_z_suffix_and_rejects_naive_timestamps(make_provider, message) -> None:
    data = Orchestrator([make_provider("p")]).send(message, trace=True).trace.to_dict()
    data["started_at"] = data["started_at"].replace("+00:00", "Z")
    assert DeliveryTrace.from_dict(data).started_at.tzinfo is dt.timezone.utc
    data["started_at"] = "2026-01-02T03:04:05"
    with pytest.raises(ValidationError, match="started_at"):
        DeliveryTrace.from_dict(data)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("trace_id"), "trace_id: required field missing"),
        (lambda d: d.update(success="yes"), "success"),
        (lambda d: d.update(colour="red"), "unknown field"),
        (lambda d: d["attempts"][0].update(error={"code": "NOPE", "message": "x"}), "NOPE"),
    ],
)
def test_from_dict_names_what_is_wrong(make_provider, message, mutate, match: str) -> None:
    data = (
        Orchestrator(
            [make_provider("p", [ErrorCode.TIMEOUT, None])],
            retry_policy=RetryPolicy(max_attempts=2, retry_on=["TIMEOUT"]),
        )
        .send(message, trace=True)
        .trace.to_dict()
    )
    mutate(data)
    with pytest.raises(ValidationError, match=match):
        DeliveryTrace.from_dict(data)


utc_datetimes = st.datetimes(
    min_value=dt.datetime(2000, 1, 1),
    max_value=dt.datetime(2100, 1, 1),
    timezones=st.just(dt.timezone.utc),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
errors = st.builds(
    DeliveryError,
    code=st.sampled_from(list(ErrorCode)),
    message=st.text(),
    details=st.dictionaries(st.text(), json_values, max_size=3),
)
attempts = st.builds(
    DeliveryAttempt,
    provider=st.text(min_size=1),
    attempt=st.integers(1, 10),
    started_at=utc_datetimes,
    finished_at=utc_datetimes,
    duration_ms=st.floats(0, 1e6),
    success=st.booleans(),
    error=st.none() | errors,
    message_id=st.none() | st.text(),
)
traces = st.builds(
    DeliveryTrace,
    trace_id=st.text(min_size=1),
    started_at=utc_datetimes,
    finished_at=utc_datetimes,
    success=st.booleans(),
    attempts=st.lists(attempts, max_size=4).map(tuple),
    skipped=st.lists(
        st.builds(
            ProviderHealth,
            st.text(min_size=1),
            st.booleans(),
            st.dictionaries(st.text(), json_values, max_size=2),
        ),
        max_size=2,
    ).map(tuple),
)
results = st.builds(
    DeliveryResult,
    success=st.booleans(),
    provider=st.none() | st.text(),
    message_id=st.none() | st.text(),
    error=st.none() | errors,
    providers_tried=st.lists(st.text(), max_size=3).map(tuple),
    trace=st.none() | traces,
    details=st.dictionaries(st.text(), json_values, max_size=3),
)


@given(traces)
def test_trace_round_trips_exactly(trace: DeliveryTrace) -> None:
    data = json.loads(json.dumps(trace.to_dict()))
    assert DeliveryTrace.from_dict(data) == trace


@given(results)
def test_result_round_trips_exactly(result: DeliveryResult) -> None:
    data = json.loads(json.dumps(result.to_dict()))
    assert DeliveryResult.from_dict(data) == result


def test_records_built_with_lists_round_trip(make_provider, message) -> None:
    trace = Orchestrator([make_provider("p")]).send(message, trace=True).trace
    rebuilt_by_hand = DeliveryTrace(
        trace.trace_id, trace.started_at, trace.finished_at, True, list(trace.attempts), []
    )
    assert rebuilt_by_hand == trace
    result = DeliveryResult(True, "p", "id", providers_tried=["p"])
    assert DeliveryResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_details_that_are_not_json_are_made_json_safe() -> None:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    error = DeliveryError(
        ErrorCode.UNKNOWN,
        "odd details",
        {
            "pair": (1, 2),
            "raw": b"\x00",
            "at": when,
            "inf": float("inf"),
            3: "int key",
            "code": ErrorCode.TIMEOUT,
            "obj": object(),
        },
    )
    result = DeliveryResult(False, error=error)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    details = data["error"]["details"]
    assert details["pair"] == [1, 2]
    assert details["raw"] == "AA=="
    assert details["at"] == "2026-01-01T00:00:00+00:00"
    assert details["inf"] == "inf"
    assert details["3"] == "int key"
    assert details["code"] == "TIMEOUT"
    assert details["obj"].startswith("<object object")


def test_from_dict_never_splits_a_string_into_a_list() -> None:
    with pytest.raises(ValidationError, match="providers_tried: expected a list, got str"):
        DeliveryResult.from_dict({"success": True, "providers_tried": "abc"})


def test_error_details_none_means_no_details_and_survives_a_round_trip(message) -> None:
    from broadcastio import (
        DeliveryError,
        Message,
        MessageProvider,
        Orchestrator,
        ProviderHealth,
    )

    class OldStyle(MessageProvider):
        """Builds its error the 0.3.0a2 way, with details=None."""

        name = "old"

        def send(self, message: Message) -> DeliveryResult:
            error = DeliveryError("RATE_LIMITED", "slow down", None)  # type: ignore[arg-type]
            return DeliveryResult(success=False, provider=self.name, error=error)

        def health(self) -> ProviderHealth:
            return ProviderHealth(self.name, True)

    result = Orchestrator([OldStyle()]).send(message, trace=True)
    assert result.error is not None and result.error.details == {}
    assert DeliveryResult.from_dict(result.to_dict()) == result

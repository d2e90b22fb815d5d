"""ProviderHealth.details in every shape 0.3.0a2 code writes it: None, a string, a dict."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    DeliveryResult,
    DeliveryTrace,
    Message,
    MessageProvider,
    OrchestrationError,
    Orchestrator,
    ProviderHealth,
    ValidationError,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=8,
)
json_mappings = st.dictionaries(st.text(), json_values, max_size=4)
# Everything the seed and its documentation put into ``details``.
details_shapes = st.none() | st.text() | json_mappings


class ReportingProvider(MessageProvider):
    """Reports the health it is given and delivers every message."""

    def __init__(self, name: str, ready: bool, details: Any) -> None:
        self.name = name  # type: ignore[misc]
        self.ready = ready
        self.details = details
        self.sent: list[Message] = []

    def health(self) -> ProviderHealth:
        return ProviderHealth(provider=self.name, ready=self.ready, details=self.details)

    def send(self, message: Message) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult.delivered(self.name, "id-1")


def expected_details(details: Any) -> dict[str, Any]:
    if details is None or (isinstance(details, str) and not details.strip()):
        return {}
    if isinstance(details, str):
        return {"reason": details}
    return dict(details)


@given(details_shapes)
def test_details_is_always_a_dict(details: Any) -> None:
    health = ProviderHealth(provider="whatsapp", ready=True, details=details)
    assert type(health.details) is dict
    assert health.details == expected_details(details)


def test_the_seed_documented_spelling_builds() -> None:
    health = ProviderHealth(provider="whatsapp", ready=True, details=None)
    assert health.details == {}
    assert ProviderHealth("dummy", True, "Always healthy (dummy)").details == {
        "reason": "Always healthy (dummy)"
    }


def test_a_mapping_is_copied_not_shared() -> None:
    source = {"state": "QR"}
    health = ProviderHealth("whatsapp", False, source)
    source["state"] = "READY"
    assert health.details == {"state": "QR"}


@pytest.mark.parametrize(
    ("details", "problem"),
    [
        (42, "got int"),
        (["down"], "got list"),
        (b"down", "got bytes"),
        ({1: "x"}, "keys must be strings, got 1"),
        (dt.datetime(2025, 12, 21, tzinfo=dt.timezone.utc), "checked_at was removed"),
    ],
)
def test_other_details_are_a_validation_error_naming_the_field(details: Any, problem: str) -> None:
    with pytest.raises(ValidationError, match="ProviderHealth details") as caught:
        ProviderHealth("p", False, details)
    assert problem in str(caught.value)


@given(details_shapes, details_shapes)
def test_nobody_ready_still_sends_whatever_the_details(first: Any, second: Any) -> None:
    a = ReportingProvider("a", False, first)
    b = ReportingProvider("b", False, second)
    result = Orchestrator([a, b], health_ttl=None).send(Message("+15551234567", "hi"))
    assert result.success and result.provider == "a"
    assert len(a.sent) == 1 and b.sent == []


@pytest.mark.parametrize("details", [None, "bridge unreachable", ""])
def test_nobody_ready_in_strict_mode_is_an_orchestration_error(details: Any) -> None:
    provider = ReportingProvider("whatsapp", False, details)
    orchestrator = Orchestrator([provider], require_healthy=True)
    with pytest.raises(OrchestrationError) as caught:
        orchestrator.send(Message("+15551234567", "hi"))
    reason = details or "not ready"
    assert str(caught.value) == f"no healthy provider: whatsapp: {reason}"
    assert caught.value.details["health"] == {"whatsapp": expected_details(details)}
    assert provider.sent == []


@given(details_shapes)
def test_a_trace_with_a_skip_round_trips(details: Any) -> None:
    sick = ReportingProvider("sick", False, details)
    well = ReportingProvider("well", True, None)
    result = Orchestrator([sick, well], health_ttl=None).send(
        Message("+15551234567", "hi"), trace=True
    )
    trace = result.trace
    assert trace is not None
    assert [skip.details for skip in trace.skipped] == [expected_details(details)]
    assert DeliveryTrace.from_dict(trace.to_dict()) == trace

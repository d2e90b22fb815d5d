"""The send path's unchecked record builders, and the shorthands providers call on every send.

``trusted_result``, ``trusted_error``, ``trusted_attempt`` and ``trusted_trace``
skip the public constructors' work (issue 15); what they build must be
indistinguishable from what those constructors build. ``DeliveryResult.delivered``
and ``.failed`` use them after checking their arguments, which they must go on
doing.
"""

from __future__ import annotations

import datetime as dt
import pickle
import weakref
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    DeliveryAttempt,
    DeliveryError,
    DeliveryResult,
    DeliveryTrace,
    ErrorCode,
    ProviderHealth,
    ValidationError,
)
from broadcastio.records.result import trusted_error, trusted_result
from broadcastio.records.trace import trusted_attempt, trusted_trace
from broadcastio.records.trusted import trusted_builder

texts = st.text(max_size=20)
optional_texts = st.none() | texts
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
details = st.dictionaries(st.text(max_size=8), json_scalars, max_size=3)
# What the shorthands take as keyword details: any name but their own parameters'.
shorthand_details = st.dictionaries(
    st.text(max_size=8).filter(
        lambda key: key not in ("cls", "provider", "message_id", "code", "message")
    ),
    json_scalars,
    max_size=3,
)
codes = st.sampled_from(list(ErrorCode))
errors = st.builds(DeliveryError, code=codes, message=texts, details=details)
moments = st.datetimes(timezones=st.just(dt.timezone.utc))
attempts = st.builds(
    DeliveryAttempt,
    provider=texts,
    attempt=st.integers(min_value=1, max_value=10),
    started_at=moments,
    finished_at=moments,
    duration_ms=st.floats(min_value=0, max_value=1e6),
    success=st.booleans(),
    error=st.none() | errors,
    message_id=optional_texts,
)
healths = st.builds(ProviderHealth, provider=texts, ready=st.booleans(), details=details)
traces = st.builds(
    DeliveryTrace,
    trace_id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    started_at=moments,
    finished_at=moments,
    success=st.booleans(),
    attempts=st.lists(attempts, max_size=3).map(tuple),
    skipped=st.lists(healths, max_size=2).map(tuple),
)


def fields_of(record: Any) -> tuple[Any, ...]:
    return tuple(getattr(record, field.name) for field in attrs.fields(type(record)))


def assert_same_record(built: Any, constructed: Any) -> None:
    """Equal, of the very same class, frozen, and usable as any record is."""
    assert type(built) is type(constructed)
    assert built == constructed
    assert repr(built) == repr(constructed)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.success = None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        del built.success
    assert attrs.evolve(built) == constructed
    assert weakref.ref(built)() is built
    assert pickle.loads(pickle.dumps(built)) == constructed


@given(
    success=st.booleans(),
    provider=optional_texts,
    message_id=optional_texts,
    error=st.none() | errors,
    providers_tried=st.lists(texts, max_size=3).map(tuple),
    trace=st.none() | traces,
    details=details,
)
def test_trusted_result_is_the_constructors_result(
    success: bool,
    provider: str | None,
    message_id: str | None,
    error: DeliveryError | None,
    providers_tried: tuple[str, ...],
    trace: DeliveryTrace | None,
    details: dict[str, Any],
) -> None:
    values = (success, provider, message_id, error, providers_tried, trace, details)
    built = trusted_result(*values)
    assert_same_record(built, DeliveryResult(*values))
    assert fields_of(built) == values
    assert built.to_dict() == DeliveryResult(*values).to_dict()


@given(code=codes, message=texts, details=details)
def test_trusted_error_is_the_constructors_error(
    code: ErrorCode, message: str, details: dict[str, Any]
) -> None:
    built = trusted_error(code, message, details)
    constructed = DeliveryError(code=code, message=message, details=details)
    assert type(built) is DeliveryError and built == constructed
    assert built.code is code and built.details is details
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.code = ErrorCode.TIMEOUT  # type: ignore[misc]


@given(attempt=attempts)
def test_trusted_attempt_is_the_constructors_attempt(attempt: DeliveryAttempt) -> None:
    built = trusted_attempt(*fields_of(attempt))
    assert type(built) is DeliveryAttempt and built == attempt
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.attempt = 2  # type: ignore[misc]


@given(trace=traces)
def test_trusted_trace_is_the_constructors_trace(trace: DeliveryTrace) -> None:
    built = trusted_trace(*fields_of(trace))
    assert type(built) is DeliveryTrace and built == trace
    assert built.to_dict() == trace.to_dict()
    assert DeliveryTrace.from_dict(built.to_dict()) == trace
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.success = True  # type: ignore[misc]


def test_a_builder_needs_a_slotted_attrs_class_whose_fields_are_init_arguments() -> None:
    @attrs.frozen(slots=False)
    class WithDict:
        value: int

    @attrs.frozen
    class Hidden:
        shown: int
        hidden: int = attrs.field(init=False, default=0)

    class Plain:
        __slots__ = ("value",)

    @attrs.frozen
    class Shadowing:
        record: int  # the builder's own name for the record it builds

    for cls in (WithDict, Hidden, Plain, Shadowing):
        with pytest.raises(TypeError, match=cls.__name__):
            trusted_builder(cls)


# -- the provider shorthands: cheap, and still checking ---------------------------------


@given(provider=texts, message_id=optional_texts, details=shorthand_details)
def test_delivered_is_the_constructors_success(
    provider: str, message_id: str | None, details: dict[str, Any]
) -> None:
    built = DeliveryResult.delivered(provider, message_id, **details)
    assert_same_record(
        built,
        DeliveryResult(success=True, provider=provider, message_id=message_id, details=details),
    )


@given(provider=texts, code=codes, message=texts, details=shorthand_details, by_name=st.booleans())
def test_failed_is_the_constructors_failure(
    provider: str, code: ErrorCode, message: str, details: dict[str, Any], by_name: bool
) -> None:
    built = DeliveryResult.failed(provider, code.value if by_name else code, message, **details)
    error = DeliveryError(code=code, message=message, details=details)
    assert_same_record(built, DeliveryResult(success=False, provider=provider, error=error))
    assert built.error is not None and built.error.code is code


not_text = st.integers() | st.floats(allow_nan=False) | st.binary(max_size=4) | st.lists(
    st.text(max_size=3), max_size=2
)


@given(value=not_text)
def test_delivered_with_an_odd_message_id_is_the_checked_constructors(value: Any) -> None:
    """Regression: the quick path raised ValidationError for a provider's non-text id.

    Raised inside ``provider.send()``, after the channel took the message, that
    error left ``Orchestrator.send`` as the caller's misuse, and a broadcast
    recorded a delivered row as failed. The odd value now takes the checked
    constructor's path, as before the quick path existed.
    """
    built = DeliveryResult.delivered("p", value, status=200)
    assert_same_record(
        built, DeliveryResult(True, "p", value, None, (), None, {"status": 200})
    )


@given(value=not_text)
def test_failed_with_an_odd_message_is_the_checked_constructors(value: Any) -> None:
    built = DeliveryResult.failed("p", ErrorCode.TIMEOUT, value)
    error = DeliveryError(code=ErrorCode.TIMEOUT, message=value, details={})
    assert_same_record(built, DeliveryResult(success=False, provider="p", error=error))


@given(code=st.text(max_size=12).filter(lambda text: text not in set(ErrorCode)) | st.integers())
def test_failed_refuses_an_unknown_code_naming_it(code: Any) -> None:
    with pytest.raises(ValidationError, match="is not an error code") as caught:
        DeliveryResult.failed("p", code, "nope")
    assert caught.value.field == "code"


def test_a_subclass_shorthand_builds_the_subclass() -> None:
    class Tagged(DeliveryResult):
        pass

    delivered = Tagged.delivered("p", "id-1", status=200)
    failed = Tagged.failed("p", "TIMEOUT", "slow")
    assert type(delivered) is Tagged and type(failed) is Tagged
    assert delivered.details == {"status": 200} and failed.error is not None


def test_the_public_constructor_still_converts() -> None:
    """Only the send path's builders skip attrs' __init__; ``DeliveryResult(...)`` does not."""
    result = DeliveryResult(success=True, provider="p", providers_tried=["p", "q"])
    assert result.providers_tried == ("p", "q")
    with pytest.raises(ValidationError, match="is not an error code"):
        DeliveryError(code="NOT_A_CODE", message="m")

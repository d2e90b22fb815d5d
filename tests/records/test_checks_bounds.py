"""The shared checks with an upper bound: any number in, a value or a ValidationError out."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ValidationError
from broadcastio.records.checks import check_int, check_number

NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),  # beyond any float
    st.floats(allow_nan=True, allow_infinity=True),
)


@given(value=NUMBERS, exclusive=st.booleans())
def test_check_number_returns_a_value_in_range_or_names_the_range(
    value: float, exclusive: bool
) -> None:
    # An int too large for a float used to escape as OverflowError.
    try:
        checked = check_number("delay", value, exclusive=exclusive, maximum=3600)
    except ValidationError as error:
        assert str(error).startswith("delay must be ")
        return
    assert math.isfinite(checked)
    assert (0 < checked if exclusive else 0 <= checked) and checked <= 3600


@given(st.integers())
def test_check_int_returns_a_value_in_range_or_names_the_range(value: int) -> None:
    try:
        assert 1 <= check_int("attempts", value, minimum=1, maximum=100) <= 100
    except ValidationError as error:
        assert str(error).startswith("attempts must be between 1 and 100, got ")
        assert len(str(error)) < 100  # a huge int is described, not printed in full


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((-1,), "x must be >= 0, got -1"),
        ((10**400,), "x must be a finite number, got an integer of 401 digits"),
        ((4000, 3600), "x must be between 0 and 3600, got 4000"),
        ((0, 3600, True), "x must be > 0 and <= 3600, got 0"),
        ((0.5, 0.25), "x must be between 0 and 0.25, got 0.5"),
    ],
)
def test_check_number_wording(arguments: tuple[float, ...], message: str) -> None:
    value, *rest = arguments
    maximum = rest[0] if rest else None
    exclusive = bool(rest[1]) if len(rest) > 1 else False
    with pytest.raises(ValidationError) as caught:
        check_number("x", value, maximum=maximum, exclusive=exclusive)
    assert str(caught.value) == message

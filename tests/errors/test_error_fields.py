"""Errors as data: the message is made from key path, problem and source, never read back."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import BroadcastioError, ConfigurationError, ErrorCode, ValidationError
from broadcastio.broadcast.journal.errors import JournalError, JournalProblem
from broadcastio.errors import format_key_path
from broadcastio.records.checks import check_error_code, check_number
from broadcastio.records.serialization import structure_or_raise, structure_problems

# Keys as TOML writes them bare; problems may hold anything a sentence can,
# including the ": " and the words ("order", "<root>") the old parsers looked for.
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,11}", fullmatch=True)
key_paths = st.lists(st.one_of(keys, st.integers(0, 99)), max_size=5).map(tuple)
problems = st.text(min_size=1).filter(lambda text: text.strip() != "") | st.sampled_from(
    ["order: is empty", "order", "<root>: x", "a: b: c", "--provider: nope"]
)


def test_the_message_is_source_key_path_and_problem() -> None:
    error = ConfigurationError(
        source="broadcastio.toml",
        key_path=("providers", "whatsapp", "timeout", 1),
        problem="must be > 0",
    )
    assert error.message == "broadcastio.toml: providers.whatsapp.timeout[1]: must be > 0"
    assert str(error) == error.message
    assert error.key_path == ("providers", "whatsapp", "timeout", 1)
    assert error.problem == "must be > 0"
    assert error.source == "broadcastio.toml"


def test_what_is_unset_is_left_out() -> None:
    assert ConfigurationError(problem="bad").message == "bad"
    assert ConfigurationError(key_path=("order",), problem="bad").message == "order: bad"
    assert ConfigurationError(source="f.toml", problem="bad").message == "f.toml: bad"


def test_a_plain_message_is_the_problem_at_no_key() -> None:
    """Errors raised with text only (most of them) keep working, and can still be placed."""
    error = ConfigurationError("provider 'x' is listed twice in order")
    assert error.problem == error.message == "provider 'x' is listed twice in order"
    assert error.key_path == () and error.source is None
    assert error.with_prefix("order").message == "order: provider 'x' is listed twice in order"


def test_an_error_needs_something_to_say() -> None:
    with pytest.raises(TypeError, match="needs a message"):
        ConfigurationError()


@given(problem=problems, key_path=key_paths, prefix=key_paths, source=st.none() | keys)
def test_layers_add_context_without_touching_the_problem(
    problem: str, key_path: tuple[str | int, ...], prefix: tuple[str | int, ...], source: str | None
) -> None:
    error = ConfigurationError(
        problem=problem, key_path=key_path, code=ErrorCode.NO_PROVIDERS, details={"a": 1}
    )
    placed = error.with_prefix(*prefix).located(source)
    assert type(placed) is ConfigurationError
    assert placed.key_path == (*prefix, *key_path)
    assert placed.problem == problem
    assert placed.source == source
    assert placed.code is ErrorCode.NO_PROVIDERS and placed.details == {"a": 1}
    expected = [source, format_key_path((*prefix, *key_path)), problem]
    assert placed.message == ": ".join(part for part in expected if part)
    # The original is untouched: layers copy, they do not mutate.
    assert error.key_path == key_path and error.source is None


def test_format_key_path_writes_indexes_in_brackets() -> None:
    assert format_key_path(()) == ""
    assert format_key_path(("a",)) == "a"
    assert format_key_path(("a", 0, "b", 2, 3)) == "a[0].b[2][3]"
    assert format_key_path(("a.b", "c")) == "a.b.c"


def test_a_summary_of_problems_moves_them_together() -> None:
    error = ConfigurationError(
        problems=[
            ValidationError(key_path=("timeout",), problem="expected a list: got str"),
            ValidationError(problem="order: unknown"),
        ]
    )
    assert error.message == "timeout: expected a list: got str; order: unknown"
    placed = error.with_prefix("providers", "x")
    assert [p.key_path for p in placed.problems] == [("timeout",), ()]
    assert placed.message == "providers.x: timeout: expected a list: got str; order: unknown"


def test_evolve_copies_fields_and_refuses_unknown_ones() -> None:
    error = ValidationError("fail_first must be >= 0", field="fail_first")
    copy = error.evolve(source="dummy.toml")
    assert type(copy) is ValidationError and copy.field == "fail_first"
    assert copy.message == "dummy.toml: fail_first must be >= 0"
    with pytest.raises(TypeError, match="unknown error field"):
        error.evolve(wording="x")


def test_a_subclass_with_its_own_fields_keeps_them() -> None:
    """JournalError's ``problem`` is its JournalProblem; it cannot be evolved blindly."""
    error = JournalError("j.sqlite", JournalProblem.MISSING)
    assert error.problem is JournalProblem.MISSING
    assert error.message.startswith("journal j.sqlite does not exist")
    with pytest.raises(TypeError, match="its own constructor"):
        error.with_prefix("journal")


def test_checks_say_which_field_they_are_about() -> None:
    with pytest.raises(ValidationError) as caught:
        check_number("timeout (read)", -1, field="timeout")
    assert caught.value.field == "timeout"
    assert caught.value.message == "timeout (read) must be >= 0, got -1"
    with pytest.raises(ValidationError) as caught:
        check_error_code("fail_code", "NOPE")
    assert caught.value.field == "fail_code" and caught.value.key_path == ("fail_code",)
    assert caught.value.message.startswith("fail_code: 'NOPE' is not an error code")


@attrs.frozen
class Window:
    start: int
    end: int
    labels: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.end < self.start:
            # The sentence starts with another field's name and holds ": ".
            raise ValidationError(
                f"start: {self.start} comes after end: {self.end}", field="end"
            )


def test_structure_problems_take_the_path_from_cattrs_notes() -> None:
    with pytest.raises(Exception) as caught:
        structure_or_raise({"start": "1", "end": 2, "labels": ["a", 3]}, Window)
    paths = {problem.key_path: problem.problem for problem in caught.value.problems}
    assert paths == {("start",): "expected int, got str", ("labels", 1): "expected str, got int"}


def test_a_classes_own_check_is_placed_by_its_field_not_its_wording() -> None:
    try:
        structure_or_raise({"start": 5, "end": 1}, Window)
    except ValidationError as caught:
        raised: Any = caught.__cause__
    (problem,) = structure_problems(raised, Window)
    assert problem.key_path == ("end",)
    assert problem.problem == "start: 5 comes after end: 1"


def test_a_field_the_class_does_not_have_is_not_placed() -> None:
    error = ValidationError("elsewhere must be set", field="elsewhere")
    (problem,) = structure_problems(error, Window)
    assert problem.key_path == ()


def test_every_broadcastio_error_renders_the_same_way() -> None:
    for cls in (BroadcastioError, ValidationError, ConfigurationError):
        error = cls(key_path=("a", 0), problem="p", source="s")
        assert str(error) == "s: a[0]: p"

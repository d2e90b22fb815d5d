"""The one cattrs converter that turns broadcastio records into JSON-safe dicts and back.

Everything that crosses a process boundary (traces written to logs, results stored
in a journal, provider settings read from TOML) goes through ``converter``, so the
rules live in one place instead of a ``to_dict`` per class:

* datetimes are ISO-8601 strings in UTC (``2026-11-22T06:06:09.123456+00:00``);
* bytes are base64 text; paths are strings; tuples and frozensets become lists;
* primitives are strict: ``"3"`` is not an int and ``"no"`` is not a bool, because a
  lenient coercion of a config value is a silent misconfiguration;
* unknown keys are an error, so a misspelled setting is reported instead of ignored;
* a string is never taken for a list (cattrs would otherwise split ``"ab"`` into
  ``("a", "b")``);
* free-form ``dict[str, Any]`` fields (``details``, ``extra``) are made JSON-safe on
  the way out: tuples become lists, bytes base64, datetimes ISO text, non-finite
  floats and unknown objects their text. Values that are already JSON round-trip
  exactly; others come back as their JSON form.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import enum
import math
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from broadcastio.errors import BroadcastioError, KeyPath, ValidationError, format_key_path
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.checks import parse_error_code

__all__ = [
    "JsonRecord",
    "as_tuple",
    "converter",
    "describe_problem",
    "describe_structure_error",
    "structure",
    "structure_or_raise",
    "structure_problems",
    "unstructure",
]

T = TypeVar("T")
R = TypeVar("R", bound="JsonRecord")

converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)


def _unstructure_datetime(value: _dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat()


def _structure_datetime(value: Any, _: type) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str):
        # Python 3.10's fromisoformat does not accept a trailing "Z".
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        parsed = _dt.datetime.fromisoformat(text)
    else:
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no timezone; expected UTC")
    return parsed.astimezone(_dt.timezone.utc)


def _structure_bytes(value: Any, _: type) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise TypeError(f"expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from None


def _structure_path(value: Any, _: type) -> Path:
    if isinstance(value, Path):
        return value
    if isinstance(value, str) and value:
        return Path(value)
    raise TypeError(f"expected a non-empty path string, got {value!r}")


def _strict(kind: type, *, also: tuple[type, ...] = ()) -> Callable[[Any, type], Any]:
    accepted = (kind, *also)

    def structure_strictly(value: Any, _: type) -> Any:
        # bool is an int subclass; a True where a number belongs is a mistake.
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"expected {kind.__name__}, got bool")
        if not isinstance(value, accepted):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value)

    return structure_strictly


# ErrorCode is a str subclass, so without its own hook the strict ``str`` hook
# below would claim it and hand back a plain string.
converter.register_structure_hook(ErrorCode, lambda value, _: parse_error_code(value))
converter.register_unstructure_hook(ErrorCode, lambda value: value.value)
converter.register_unstructure_hook(_dt.datetime, _unstructure_datetime)
converter.register_structure_hook(_dt.datetime, _structure_datetime)
converter.register_unstructure_hook(bytes, lambda value: base64.b64encode(value).decode("ascii"))
converter.register_structure_hook(bytes, _structure_bytes)
converter.register_unstructure_hook(Path, str)
converter.register_structure_hook(Path, _structure_path)
converter.register_structure_hook(str, _strict(str))
converter.register_structure_hook(int, _strict(int))
converter.register_structure_hook(float, _strict(float, also=(int,)))
converter.register_structure_hook(bool, _strict(bool))


def _is_collection(kind: Any) -> bool:
    return get_origin(kind) in (tuple, list, frozenset, set)


def _is_sequence(kind: Any) -> bool:
    return get_origin(kind) in (tuple, list)


def _structure_collection(value: Any, kind: Any) -> Any:
    if isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    origin = get_origin(kind)
    args = get_args(kind)
    items = list(value)
    if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
        if len(items) != len(args):
            raise ValueError(f"expected a list of {len(args)} items, got {len(items)}")
        item_types: list[Any] = list(args)
    else:
        item_types = [args[0] if args else Any] * len(items)
    structured = []
    errors = []
    for index, (item, item_type) in enumerate(zip(items, item_types, strict=True)):
        try:
            structured.append(converter.structure(item, item_type))
        except Exception as exc:
            # What BaseException.add_note does (3.11+), spelled so 3.10 works too.
            notes = [
                *getattr(exc, "__notes__", []),
                IterableValidationNote(f"Structuring item @ index {index}", index, item_type),
            ]
            setattr(exc, "__notes__", notes)  # noqa: B010
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {kind!r}", errors, kind)
    return origin(structured)


def _is_free_form_dict(kind: Any) -> bool:
    return get_origin(kind) is dict and get_args(kind) == (str, Any)


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return _json_safe(value.value)
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, _dt.datetime):
        return _unstructure_datetime(value)
    return str(value)


def _is_literal(kind: Any) -> bool:
    return get_origin(kind) is Literal


def _is_union(kind: Any) -> bool:
    return get_origin(kind) in (Union, types.UnionType)


def _structure_literal(value: Any, kind: Any) -> Any:
    choices = get_args(kind)
    if value in choices and type(value) in {type(choice) for choice in choices}:
        return value
    raise ValueError(f"expected one of {', '.join(map(repr, choices))}, got {value!r}")


converter.register_structure_hook_func(_is_collection, _structure_collection)
converter.register_structure_hook_func(_is_literal, _structure_literal)
converter.register_unstructure_hook_func(_is_free_form_dict, _json_safe)
# A field declared ``X | None`` is unstructured by what it holds at run time, so an
# optional frozenset or tuple gets the same JSON-safe treatment as a plain one.
converter.register_unstructure_hook_func(_is_union, lambda value: converter.unstructure(value))
converter.register_unstructure_hook(tuple, lambda value: [converter.unstructure(v) for v in value])
# ``tuple[float, float]`` and friends are dispatched by their generic type, not by ``tuple``.
converter.register_unstructure_hook_func(
    _is_sequence, lambda value: [converter.unstructure(v) for v in value]
)
converter.register_unstructure_hook(
    frozenset, lambda value: sorted(converter.unstructure(v) for v in value)
)


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: keep tuple fields tuples even when built from a list (cheap for tuples)."""
    return value if type(value) is tuple else tuple(value)


def unstructure(value: Any) -> Any:
    """Turn a broadcastio record into plain JSON-safe data."""
    return converter.unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from plain data; raises cattrs' ``ClassValidationError`` on bad input."""
    return converter.structure(data, cls)


def _placed_by_own_check(error: BaseException, cls: Any) -> KeyPath:
    """The field of ``cls`` a problem from the class's own checks concerns, if any.

    cattrs can only place an error raised by ``__attrs_post_init__`` or a
    validator at the class itself; the check's ``ValidationError`` says which
    field it was about (``field``), so the problem can point at the exact key.
    A field that is not one of ``cls``'s own (a nested record's) is not placed.
    """
    field = getattr(error, "field", None) if isinstance(error, BroadcastioError) else None
    if field is None or cls is None or not attrs.has(cls):
        return ()
    return (field,) if field in attrs.fields_dict(cls) else ()


def structure_problems(exc: BaseException, cls: Any = None) -> list[ValidationError]:
    """A cattrs validation error as one ``ValidationError`` per problem, each with its key path.

    cattrs reports nested failures as exception groups whose path is kept in
    notes on each inner exception (``AttributeValidationNote`` names a field,
    ``IterableValidationNote`` an index); this walks them, so nothing reads the
    failing path out of a message. With ``cls`` (the class being built), a
    problem its own checks raised is placed at the field the check names.
    """
    problems: list[ValidationError] = []

    def walk(error: BaseException, path: KeyPath) -> None:
        if isinstance(error, ForbiddenExtraKeysError):
            names = ", ".join(sorted(error.extra_fields))
            problems.append(ValidationError(key_path=path, problem=f"unknown field(s) {names}"))
            return
        if isinstance(error, (ClassValidationError, IterableValidationError)):
            with_notes, without = error.group_exceptions()
            for inner, note in with_notes:
                name = getattr(note, "name", None)
                index = getattr(note, "index", None)
                if name is not None:
                    child: KeyPath = (*path, str(name))
                elif isinstance(index, int):
                    child = (*path, index)
                else:
                    child = path
                walk(inner, child)
            for inner in without:
                walk(inner, path)
            return
        if isinstance(error, KeyError):
            problems.append(ValidationError(key_path=path, problem="required field missing"))
            return
        if not path:
            path = _placed_by_own_check(error, cls)
        problems.append(ValidationError(key_path=path, problem=str(error)))

    walk(exc, ())
    return problems


def describe_problem(problem: BroadcastioError) -> str:
    """One problem as a ``"field.path: problem"`` line, ``<root>`` for the record itself.

    The wording of a record's own errors (``from_dict``) and of a provider's
    settings errors as the plugin layer reports them.
    """
    return f"{format_key_path(problem.key_path) or '<root>'}: {problem.problem}"


def describe_structure_error(exc: BaseException, cls: Any = None) -> list[str]:
    """``structure_problems`` as ``describe_problem`` lines."""
    return [describe_problem(problem) for problem in structure_problems(exc, cls)]


def structure_or_raise(data: Any, cls: type[T]) -> T:
    """Like ``structure`` but reports bad input as a ``ValidationError`` naming each field.

    The error's ``problems`` are the individual problems, each with its key path.
    """
    if not isinstance(data, dict):
        raise ValidationError(
            f"cannot build {cls.__name__}: expected a dict, got {type(data).__name__}"
        )
    try:
        return converter.structure(data, cls)
    except (ClassValidationError, IterableValidationError, ValueError, TypeError, KeyError) as exc:
        problems = structure_problems(exc)
        lines = [describe_problem(problem) for problem in problems]
        raise ValidationError(
            f"cannot build {cls.__name__}: {'; '.join(lines)}",
            details={"problems": lines},
            problems=problems,
        ) from exc


class JsonRecord:
    """Gives a record class ``to_dict`` / ``from_dict`` through the shared converter.

    A mixin rather than per-class code, so every record serializes by the same
    rules and a new field needs no serialization code at all.
    """

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that ``from_dict`` turns back into an equal object."""
        data: dict[str, Any] = converter.unstructure(self)
        return data

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """Rebuild an object from ``to_dict`` output; ``ValidationError`` names each bad field."""
        return structure_or_raise(data, cls)

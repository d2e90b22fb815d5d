"""Argument checks for public constructors: one wording, one exception type.

Every public entry point answers bad input with a ``ValidationError`` that names
the offending argument, never a bare ``TypeError`` from deep inside. These
helpers keep that wording consistent across the core and the plugins (which may
use them too).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from broadcastio.core.codes import ErrorCode
from broadcastio.errors import ValidationError

__all__ = [
    "check_bool",
    "check_error_code",
    "check_int",
    "check_iterable",
    "check_number",
    "check_text",
    "parse_error_code",
]


def parse_error_code(value: Any) -> ErrorCode:
    """An ``ErrorCode`` from itself or its name; ``ValueError`` says what was wrong.

    The one place a code is read from outside data: constructors (through
    ``check_error_code``), ``retry_on`` lists and the cattrs converter all use it.
    """
    if isinstance(value, ErrorCode):
        return value
    if isinstance(value, str):
        try:
            return ErrorCode(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an error code; expected one of: {', '.join(ErrorCode)}")


def check_error_code(name: str, value: Any) -> ErrorCode:
    """``value`` must be an ``ErrorCode`` or the name of one."""
    try:
        return parse_error_code(value)
    except ValueError as exc:
        raise ValidationError(f"{name}: {exc}") from None


def check_bool(name: str, value: Any) -> bool:
    """``value`` must be ``True`` or ``False`` (not a truthy string like ``"no"``)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, got {value!r}")
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` must be an int (not a bool, not a float), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_number(name: str, value: Any, *, minimum: float = 0.0, exclusive: bool = False) -> float:
    """``value`` must be a finite int or float, >= ``minimum`` (> with ``exclusive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (exclusive and value == minimum):
        relation = ">" if exclusive else ">="
        raise ValidationError(f"{name} must be {relation} {minimum:g}, got {value!r}")
    return float(value)


def check_text(name: str, value: Any, *, allow_blank: bool = False) -> str:
    """``value`` must be a string, non-blank unless ``allow_blank``."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not allow_blank and not value.strip():
        raise ValidationError(f"{name} must not be empty or blank")
    return value


def check_iterable(name: str, value: Any, what: str) -> Iterable[Any]:
    """``value`` must be a collection of ``what`` (a list, tuple, set…), not a string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(f"{name} must be a list of {what}, got {value!r}")
    return value

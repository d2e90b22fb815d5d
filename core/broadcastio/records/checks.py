"""Argument checks for public constructors: one wording, one exception type.

Every public entry point answers bad input with a ``ValidationError`` that names
the offending argument, never a bare ``TypeError`` from deep inside. These
helpers keep that wording consistent across the core and the plugins (which may
use them too). The argument's name is also the error's ``field``, so a layer
above (a configuration file's key path) can place the problem without reading
the sentence; ``field=`` gives it when the name shown is not the field's own
(``"timeout (read)"`` is a part of ``timeout``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from broadcastio.errors.codes import ErrorCode
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
        raise ValidationError(key_path=(name,), problem=str(exc), field=name) from None


def check_bool(name: str, value: Any, *, field: str | None = None) -> bool:
    """``value`` must be ``True`` or ``False`` (not a truthy string like ``"no"``)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false, got {value!r}", field=field or name)
    return value


def _shown(value: Any) -> str:
    """``repr(value)``, except that an integer of hundreds of digits is described, not printed."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


def _number(value: float) -> str:
    """``86400``, not ``86400.0`` nor ``1e+06``: a bound as a person would write it."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def _bounds(minimum: float | None, maximum: float | None, *, exclusive: bool = False) -> str:
    """``between 1 and 100``, ``>= 0``, ``> 0 and <= 3600``: the range as a user reads it."""
    if minimum is None:
        return "a number" if maximum is None else f"<= {_number(maximum)}"
    low = f"{'>' if exclusive else '>='} {_number(minimum)}"
    if maximum is None:
        return low
    if exclusive:
        return f"{low} and <= {_number(maximum)}"
    return f"between {_number(minimum)} and {_number(maximum)}"


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    field: str | None = None,
) -> int:
    """``value`` must be an int (not a bool, not a float), within ``minimum``..``maximum``.

    An upper bound is worth giving wherever an absurd count is never meant: it
    would otherwise surface as a hang or an exhausted machine, far from the
    setting that caused it.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {value!r}", field=field or name)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValidationError(
            f"{name} must be {_bounds(minimum, maximum)}, got {_shown(value)}", field=field or name
        )
    return value


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float = 0.0,
    exclusive: bool = False,
    maximum: float | None = None,
    field: str | None = None,
) -> float:
    """``value`` must be a finite int or float within ``minimum`` (``exclusive``?) and ``maximum``.

    The upper bound matters for durations: seconds past any sane bound overflow
    ``time.sleep`` or a timestamp much later, as a traceback instead of an error
    naming the setting. An int too large for a float is out of range, not a crash.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a finite number, got {value!r}", field=field or name)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number) and (isinstance(value, float) or maximum is None):
        raise ValidationError(
            f"{name} must be a finite number, got {_shown(value)}", field=field or name
        )
    too_low = number < minimum or (exclusive and number == minimum)
    if too_low or (maximum is not None and number > maximum):
        bounds = _bounds(minimum, maximum, exclusive=exclusive)
        raise ValidationError(f"{name} must be {bounds}, got {_shown(value)}", field=field or name)
    return number


def check_text(
    name: str, value: Any, *, allow_blank: bool = False, field: str | None = None
) -> str:
    """``value`` must be a string, non-blank unless ``allow_blank``."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{name} must be a string, got {type(value).__name__}", field=field or name
        )
    if not allow_blank and not value.strip():
        raise ValidationError(f"{name} must not be empty or blank", field=field or name)
    return value


def check_iterable(name: str, value: Any, what: str, *, field: str | None = None) -> Iterable[Any]:
    """``value`` must be a collection of ``what`` (a list, tuple, set…), not a string."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"{name} must be a list of {what}, got {value!r}", field=field or name
        )
    return value

"""Writing results: JSON for programs, aligned tables and short texts for people.

Everything here writes to stdout through ``click.echo``: results go to stdout,
logs and errors to stderr, so ``broadcastio ... --json | jq`` always works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

__all__ = [
    "echo_json",
    "format_details",
    "format_duration",
    "plural",
    "render_table",
    "toml_assignment",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
# Details keys read first, because they say why in words.
_LEADING_DETAILS = ("reason", "error", "state")


def echo_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (UTF-8, not \\u-escaped: it is for jq and people)."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, indent: str = ""
) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded (it may be long)."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[index]) for row in table) for index in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append(indent + "  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def format_duration(milliseconds: float) -> str:
    """``0.4 ms``, ``12 ms``, ``1.25 s``: as precise as a person reading it needs."""
    if milliseconds < 10:
        return f"{milliseconds:.1f} ms"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.2f} s"


def plural(count: int, noun: str) -> str:
    """``1 attempt``, ``2 attempts``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_details(details: Mapping[str, Any]) -> str:
    """A details dict on one line, the explaining keys (reason, error, state) first."""
    keys = [key for key in _LEADING_DETAILS if key in details]
    keys += sorted(key for key in details if key not in _LEADING_DETAILS)
    return "; ".join(f"{key}: {_one_line(details[key])}" for key in keys) or "-"


def _one_line(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return " ".join(text.split())


def toml_assignment(key: str, value: Any) -> str:
    """``key = value`` in TOML; an unset (``None``) value becomes a comment.

    ``broadcastio config`` prints the resolved configuration this way so a reader
    sees it in the syntax of the file they would edit.
    """
    if value is None:
        return f"# {_toml_key(key)} is not set"
    return f"{_toml_key(key)} = {_toml_value(value)}"


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        # TOML has no null: unset members of an inline table are left out.
        members = [
            f"{_toml_key(str(key))} = {_toml_value(item)}"
            for key, item in value.items()
            if item is not None
        ]
        return "{ " + ", ".join(members) + " }" if members else "{}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_toml_value(item) for item in value if item is not None) + "]"
    # JSON's string escapes are valid in a TOML basic string (ensure_ascii=False
    # avoids \ud83d-style surrogate escapes, which TOML rejects).
    return json.dumps(str(value), ensure_ascii=False)

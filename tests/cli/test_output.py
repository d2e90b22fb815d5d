"""The formatting helpers behind every human-readable output."""

from __future__ import annotations

import sys

import pytest

from broadcastio.cli.output import (
    format_details,
    format_duration,
    plural,
    render_table,
    toml_assignment,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_table_aligns_columns_and_leaves_the_last_unpadded() -> None:
    table = render_table(["A", "LONGER", "LAST"], [["xyz", "1", "free text"], ["", "22", "-"]])
    assert table.splitlines() == [
        "A    LONGER  LAST",
        "xyz  1       free text",
        "     22      -",
    ]


def test_table_indent() -> None:
    assert render_table(["A", "B"], [["1", "2"]], indent="  ").splitlines()[1] == "  1  2"


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [(0.04, "0.0 ms"), (3.25, "3.2 ms"), (12.4, "12 ms"), (999.4, "999 ms"), (1250, "1.25 s")],
)
def test_durations(milliseconds, text) -> None:
    assert format_duration(milliseconds) == text


def test_plural() -> None:
    assert plural(1, "attempt") == "1 attempt" and plural(3, "attempt") == "3 attempts"


def test_details_put_the_reason_first_and_stay_on_one_line() -> None:
    details = {"since": "2026-01-01", "reason": "QR:\n  scan it", "http_status": 503}
    assert format_details(details) == "reason: QR: scan it; http_status: 503; since: 2026-01-01"
    assert format_details({}) == "-"


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        'quotes " and \\ backslash',
        "emoji 🎉 and accents é",
        "new\nline\ttab",
        True,
        3,
        0.5,
        [1.0, 2.5],
        {"max_attempts": 3, "backoff": "fixed"},
    ],
)
def test_toml_assignments_parse_back(value) -> None:
    assert tomllib.loads(toml_assignment("key", value)) == {"key": value}


def test_toml_unset_values_are_comments() -> None:
    assert toml_assignment("name", None) == "# name is not set"
    assert tomllib.loads(toml_assignment("retry", {"max_delay": None, "jitter": False})) == {
        "retry": {"jitter": False}
    }


def test_toml_keys_are_quoted_when_needed() -> None:
    assert toml_assignment("odd key", 1) == '"odd key" = 1'

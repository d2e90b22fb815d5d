"""A journal with damaged pages, through the installed script: exit 2, one line, nothing sent.

The damage is real: the recipients table's pages of a real journal file are
overwritten with random bytes. Before, ``broadcast --resume`` and ``journal
list/show/export`` ended in "internal error (a bug)", and ``export -o`` left a
half-written file.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
from pathlib import Path

import pytest

from broadcastio.broadcast import Journal

RECIPIENTS = 300


@pytest.fixture
def damaged_journal(tmp_path: Path, dummy_config, run_script) -> Path:
    """A journal whose broadcast 'nine' delivered to everyone, then lost its recipient pages."""
    (tmp_path / "team.csv").write_text(
        "recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(RECIPIENTS))
    )
    dummy_config()
    journal = tmp_path / "journal.sqlite"
    sent = run_script("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
                      "--text", "Backup at 9", "--journal", str(journal),
                      "--id", "nine")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    with sqlite3.connect(journal) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        leaves = [page for (page,) in connection.execute(
            "SELECT pageno FROM dbstat WHERE name = 'recipients' AND pagetype = 'leaf'"
        )]  # fmt: skip
    connection.close()
    data = bytearray(journal.read_bytes())
    for page in leaves[1:]:  # the first leaf stays readable: an export gets part-way
        start = (page - 1) * page_size
        data[start : start + page_size] = random.Random(page).randbytes(page_size)
    journal.write_bytes(bytes(data))
    return journal


def assert_one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("broadcastio: error")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


def test_a_resume_from_a_damaged_journal_is_refused_and_sends_nothing(
    damaged_journal: Path, tmp_path: Path, run_script
) -> None:
    results = tmp_path / "results.jsonl"
    result = run_script("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
                        "--text", "Backup at 9", "--journal", str(damaged_journal),
                        "--resume", "nine", "--results", str(results))  # fmt: skip
    line = assert_one_error_line(result, str(damaged_journal), "is damaged")
    assert "start a new broadcast id" in line
    assert not results.exists() or results.read_text() == ""  # no outcome: nothing sent


@pytest.mark.parametrize(
    "command",
    [("list",), ("show", "nine"), ("show", "nine", "--json"), ("export", "nine")],
    ids=["list", "show", "show-json", "export"],
)
def test_reading_a_damaged_journal_is_one_line(
    damaged_journal: Path, run_script, command: tuple[str, ...]
) -> None:
    result = run_script("journal", *command, "--journal", str(damaged_journal))
    assert_one_error_line(result, str(damaged_journal), "is damaged")


def test_a_failed_export_leaves_the_output_as_it_was(
    damaged_journal: Path, tmp_path: Path, run_script
) -> None:
    output = tmp_path / "nine.csv"
    output.write_text("yesterday's export\n")
    result = run_script("journal", "export", "nine", "--journal", str(damaged_journal),
                        "-o", str(output))  # fmt: skip
    assert_one_error_line(result, "is damaged")
    assert output.read_text() == "yesterday's export\n"
    assert sorted(path.name for path in tmp_path.glob(".nine.csv*")) == []  # no temp file left


def test_the_damaged_journal_was_not_written(damaged_journal: Path, run_script) -> None:
    before = damaged_journal.read_bytes()
    run_script("journal", "show", "nine", "--journal", str(damaged_journal))
    run_script("journal", "export", "nine", "--journal", str(damaged_journal))
    assert damaged_journal.read_bytes() == before
    with pytest.raises(ValueError, match="is damaged"):
        with Journal(damaged_journal, read_only=True) as journal:
            journal.summary("nine")

"""A damaged journal gets the advice that fits what was being done with it.

Before, ``journal list/show/export`` on a damaged file said "nothing was sent;
... look at what it still shows with 'broadcastio journal show ID'": that
command is the one that had just failed the same way. A read says that nothing
was changed and how to salvage the file; a broadcast keeps its own advice (do
not resume from it). The damage is real: a page of a real journal overwritten
with random bytes, the first page (past SQLite's header) or a recipients page.
"""

from __future__ import annotations

import random
import shlex
import subprocess
from pathlib import Path

import pytest

RECIPIENTS = 300
# SQLite's database header: kept, so the file is still recognised as a database.
HEADER_BYTES = 100


# The sixth page: a recipients page (since schema version 3 the fifth is the
# root of the receipts table, which list/show/export read only in part).
@pytest.fixture(params=[0, 5], ids=["first-page", "sixth-page"])
def damaged_journal(
    request: pytest.FixtureRequest, tmp_path: Path, dummy_config, run_script
) -> Path:
    """A journal in a directory with a space, whose page ``param`` (from 0) is random bytes."""
    (tmp_path / "team.csv").write_text(
        "recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(RECIPIENTS))
    )
    dummy_config()
    directory = tmp_path / "my journals"
    directory.mkdir()
    journal = directory / "journal.sqlite"
    sent = run_script("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
                      "--text", "Backup at 9", "--journal", str(journal),
                      "--id", "nine")  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    page: int = request.param
    data = bytearray(journal.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    start = page * page_size + (HEADER_BYTES if page == 0 else 0)
    end = (page + 1) * page_size
    data[start:end] = random.Random(page).randbytes(end - start)
    journal.write_bytes(bytes(data))
    return journal


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("broadcastio: error")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "command",
    [("list",), ("show", "nine"), ("show", "nine", "--json"), ("export", "nine")],
    ids=["list", "show", "show-json", "export"],
)
def test_reading_a_damaged_journal_advises_salvaging_it_not_showing_it(
    damaged_journal: Path, run_script, command: tuple[str, ...]
) -> None:
    before = damaged_journal.read_bytes()
    line = error_line(run_script("journal", *command, "--journal", str(damaged_journal)))
    assert "is damaged" in line and str(damaged_journal) in line
    assert "nothing was changed" in line
    assert "journal show" not in line  # the command that just failed the same way
    assert "nothing was sent" not in line  # a read sends nothing: that advice is a run's
    # The salvage command names this file, quoted for the shell (its directory has a space).
    assert f"sqlite3 {shlex.quote(str(damaged_journal))} .recover | sqlite3 " in line
    assert damaged_journal.read_bytes() == before


def test_a_broadcast_on_a_damaged_journal_keeps_the_advice_of_a_run(
    damaged_journal: Path, run_script
) -> None:
    resumed = run_script("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
                         "--text", "Backup at 9", "--journal", str(damaged_journal),
                         "--resume", "nine")  # fmt: skip
    line = error_line(resumed)
    assert "is damaged" in line and "nothing was sent" in line
    assert "start a new broadcast id" in line and "could send twice" in line
    assert "nothing was changed" not in line


def test_the_operation_is_a_field_and_advice_the_raiser_wrote_is_kept(tmp_path: Path) -> None:
    from broadcastio.broadcast.journal import (
        JournalError,
        JournalOperation,
        JournalProblem,
    )

    journal = tmp_path / "j.sqlite"
    raised = JournalError(journal, JournalProblem.DAMAGED, detail="malformed", broadcast_id="b")
    assert raised.operation is None and "nothing was sent" in raised.advice
    read = raised.during(JournalOperation.READ)
    assert read.operation is JournalOperation.READ and read.details["operation"] == "READ"
    assert (read.journal, read.problem, read.detail, read.broadcast_id) == (
        journal, JournalProblem.DAMAGED, "malformed", "b",
    )  # fmt: skip
    assert "nothing was changed" in read.advice and read.advice in read.message
    run = read.during(JournalOperation.RUN)
    assert run.advice == raised.advice and run.operation is JournalOperation.RUN
    written = JournalError(journal, JournalProblem.NOT_A_JOURNAL, advice="give a journal")
    assert written.during(JournalOperation.READ).advice == "give a journal"

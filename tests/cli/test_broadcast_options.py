"""``broadcastio broadcast`` checks the run's options before it reads, loads or creates anything.

Before, a bad ``--id`` was refused only by ``iter_broadcast``, after the
journal had been opened: the command exited 2 but left a new, empty journal
file (or a first-run default journal directory) behind. The command now builds
its ``BroadcastOptions`` first. Real processes of the installed script.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BAD_IDS = [
    (" padded", "broadcast_id must be at most 200 characters without surrounding blanks"),
    ("x" * 201, "broadcast_id must be at most 200 characters without surrounding blanks"),
    ("a\x7fb", "broadcast_id must not contain control characters"),
]


@pytest.mark.parametrize(("broadcast_id", "problem"), BAD_IDS)
def test_a_bad_id_leaves_no_journal_behind(
    tmp_path: Path, dummy_config, run_script, broadcast_id: str, problem: str
) -> None:
    dummy_config()
    (tmp_path / "team.csv").write_text("recipient,name\n+15550000001,Ada\n")
    journal = tmp_path / "journal.sqlite"
    result = run_script(
        "--config", "dummy.toml", "broadcast", "--recipients", "team.csv", "--text", "Hi {name}",
        "--journal", str(journal), "--id", broadcast_id,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"broadcastio: error: {problem}"), lines
    assert result.stdout == ""
    assert sorted(path.name for path in tmp_path.iterdir() if "journal" in path.name) == []


def test_a_bad_id_creates_no_default_journal_directory(
    tmp_path: Path, dummy_config, run_script
) -> None:
    dummy_config()
    (tmp_path / "team.csv").write_text("recipient\n+15550000001\n")
    state_home = tmp_path / "state-home"
    result = run_script(
        "--config", "dummy.toml", "broadcast", "--recipients", "team.csv", "--text", "Hi",
        "--id", "tab\there",
        env={"XDG_STATE_HOME": str(state_home)},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "broadcast_id must not contain control characters" in result.stderr
    assert not state_home.exists()


def test_the_options_reach_the_run(tmp_path: Path, dummy_config, run_script) -> None:
    """--concurrency, --id and --retry-failed travel to the run in the one record."""
    dummy_config(fail_first=1, fail_code="INVALID_RECIPIENT")  # each process's first send
    (tmp_path / "team.csv").write_text("recipient\n+15550000001\n+15550000002\n")
    journal = tmp_path / "journal.sqlite"
    common = ["--config", "dummy.toml", "broadcast", "--recipients", "team.csv", "--text", "Hi",
              "--journal", str(journal), "--json"]  # fmt: skip
    first = run_script(*common, "--id", "weekly", "--concurrency", "1")
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert (report["broadcast_id"], report["failed"], report["delivered"]) == ("weekly", 1, 1)
    resumed = json.loads(run_script(*common, "--resume", "weekly").stdout)
    assert (resumed["run"], resumed["not_retried"], resumed["already_delivered"]) == (2, 1, 1)
    retried = run_script(*common, "--resume", "weekly", "--retry-failed", "--concurrency", "2")
    report = json.loads(retried.stdout)
    assert (report["run"], report["failed"], report["already_delivered"]) == (3, 1, 1)

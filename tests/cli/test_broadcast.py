"""``broadcastio broadcast``: rows checked before sending, journal, resume, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from broadcastio import ValidationError
from broadcastio.broadcast import Journal

BROADCAST = ("--config", "dummy.toml", "broadcast")


@pytest.fixture
def recipients(tmp_path: Path) -> Callable[..., Path]:
    def write(rows: list[str], name: str = "team.csv", header: str = "recipient,name") -> Path:
        path = tmp_path / name
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


def journal_rows(path: Path, broadcast_id: str) -> dict[str, tuple[str, int]]:
    """recipient -> (state, attempts), as the journal reports them."""
    with Journal(path, create=False) as journal:
        return {row.recipient: (str(row.state), row.attempts) for row in journal.rows(broadcast_id)}


def test_delivers_to_every_row_with_the_template_filled(
    invoke: Callable[..., Any], dummy_config: Callable[..., Path], recipients, journal, built
) -> None:
    dummy_config()
    path = recipients(["+1001,Ada", "+1002,Bob", "+1001,Ada"])
    result = invoke(
        *BROADCAST, "--recipients", str(path), "--text", "Hi {name}",
        "--journal", str(journal), "--id", "daily", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["broadcast_id"], report["delivered"], report["duplicates"]) == ("daily", 2, 1)
    assert report["delivered_by_provider"] == {"dummy": 2}
    texts = sorted(call.content for call in built[0].providers[0].sent)
    assert texts == ["Hi Ada", "Hi Bob"]
    assert journal_rows(journal, "daily") == {"+1001": ("delivered", 1), "+1002": ("delivered", 1)}


def test_a_rerun_with_the_same_id_sends_nothing_twice(
    invoke, dummy_config, recipients, journal, built
) -> None:
    dummy_config()
    path = recipients(["+1001,Ada", "+1002,Bob"])
    args = (*BROADCAST, "--recipients", str(path), "--text", "Hi", "--journal", str(journal))
    assert invoke(*args, "--id", "d").exit_code == 0
    again = invoke(*args, "--resume", "d", "--json")
    assert again.exit_code == 0
    report = json.loads(again.stdout)
    assert (report["delivered"], report["already_delivered"], report["run"]) == (0, 2, 2)
    assert built[1].providers[0].send_count == 0


def test_failures_exit_1_and_retry_failed_sends_them_again(
    invoke, dummy_config, recipients, journal
) -> None:
    dummy_config(fail_first=2, fail_code="INVALID_RECIPIENT")
    path = recipients(["+1001,Ada", "+1002,Bob", "+1003,Cy"])
    args = (*BROADCAST, "--recipients", str(path), "--text", "Hi", "--journal", str(journal))
    first = invoke(*args, "--id", "d", "--concurrency", "1")
    assert first.exit_code == 1
    assert "failed             2      INVALID_RECIPIENT 2" in first.stdout
    without = invoke(*args, "--resume", "d", "--json")
    assert without.exit_code == 1
    assert json.loads(without.stdout)["not_retried"] == 2
    dummy_config("healthy.toml")  # the recipients' problem is fixed
    retried = invoke(
        "--config", "healthy.toml", *args[2:], "--resume", "d", "--retry-failed", "--json"
    )
    assert retried.exit_code == 0, retried.stdout
    assert json.loads(retried.stdout)["delivered"] == 2
    states = journal_rows(journal, "d")
    assert {state for state, _ in states.values()} == {"delivered"}
    assert sorted(attempts for _, attempts in states.values()) == [1, 2, 2]


@pytest.mark.parametrize(
    ("rows", "header", "text", "expected"),
    [
        (["+1,Ada", "+2,"], "recipient,name", "Hi {nam}", "line 2: the template uses {nam}"),
        (["+1,Ada", " ,Bob"], "recipient,name", "Hi {name}", "line 3: the recipient is empty"),
        (["Ada"], "name", "Hi", "line 1: the CSV header has no 'recipient' column"),
        (["+1,Ada", "+2,Bob,x"], "recipient,name", "Hi", "line 3: has 3 fields"),
        (["+1,"], "recipient,name", "{name}", "line 2: a message needs content"),
    ],
)
def test_a_bad_row_stops_the_run_before_anything_is_sent(
    invoke, dummy_config, recipients, journal, built, rows, header, text, expected
) -> None:
    dummy_config()
    path = recipients(rows, header=header)
    result = invoke(
        *BROADCAST, "--recipients", str(path), "--text", text, "--journal", str(journal)
    )
    assert result.exit_code == 2
    assert f"broadcastio: error: {path}, {expected}" in result.stderr
    assert "nothing was sent" in result.stderr
    assert built == []  # not even an orchestrator was built
    assert not journal.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--id", "a", "--resume", "a"), "give --id for a new broadcast or --resume"),
        (("--retry-failed",), "--retry-failed needs the broadcast to retry"),
        (("--no-journal", "--resume", "a"), "--no-journal cannot be combined"),
        (("--text-file", "t.txt"), "not both"),
        (("--concurrency", "0"), "0 is not in the range 1<=x<=256"),
    ],
)
def test_usage_errors(invoke, dummy_config, recipients, args, expected) -> None:
    dummy_config()
    path = recipients(["+1,Ada"])
    result = invoke(*BROADCAST, "--recipients", str(path), "--text", "Hi", *args)
    assert result.exit_code == 2
    assert expected in result.stderr


def test_nothing_to_send_and_unknown_resume_id(invoke, dummy_config, recipients, journal):
    dummy_config()
    path = recipients(["+1,Ada"])
    nothing = invoke(*BROADCAST, "--recipients", str(path))
    assert nothing.exit_code == 2 and "nothing to send" in nothing.stderr
    ok = invoke(*BROADCAST, "--recipients", str(path), "--text", "x", "--journal", str(journal))
    assert ok.exit_code == 0
    unknown = invoke(
        *BROADCAST, "--recipients", str(path), "--text", "x",
        "--journal", str(journal), "--resume", "never-ran",
    )  # fmt: skip
    assert unknown.exit_code == 2
    assert "never-ran" in unknown.stderr


def test_jsonl_from_stdin_and_results_file(invoke, dummy_config, tmp_path, journal) -> None:
    dummy_config()
    rows = "\n".join(json.dumps({"recipient": f"+{n}", "n": n}) for n in range(5))
    results = tmp_path / "out.jsonl"
    result = invoke(
        *BROADCAST, "--recipients", "-", "--text", "number {n}", "--journal", str(journal),
        "--results", str(results),
        input=rows + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    outcomes = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(o["recipient"] for o in outcomes) == [f"+{n}" for n in range(5)]
    assert {o["status"] for o in outcomes} == {"delivered"}


def test_no_journal_still_delivers(invoke, dummy_config, recipients, tmp_path) -> None:
    dummy_config()
    path = recipients(["+1,Ada", "+2,Bob"])
    result = invoke(*BROADCAST, "--recipients", str(path), "--text", "x", "--no-journal")
    assert result.exit_code == 0
    assert "journal:" not in result.stdout


def test_default_journal_lives_in_the_state_directory(
    invoke, dummy_config, recipients, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    dummy_config()
    path = recipients(["+1,Ada"])
    result = invoke(*BROADCAST, "--recipients", str(path), "--text", "x", "--id", "d")
    assert result.exit_code == 0
    default = tmp_path / "state-home" / "broadcastio" / "journal.sqlite"
    assert journal_rows(default, "d") == {"+1": ("delivered", 1)}
    shown = invoke("journal", "show", "d", "--json")
    assert json.loads(shown.stdout)["summary"]["delivered"] == 1


def test_ctrl_c_finishes_sends_under_way_and_the_run_resumes(
    start_script, script: Path, script_env: dict[str, str], tmp_path: Path, dummy_config,
    recipients, journal,
) -> None:  # fmt: skip
    """SIGINT to a real process: exit 130, a clean journal, and a resume that completes it."""
    dummy_config(latency=0.05)
    path = recipients([f"+{1000 + n},n{n}" for n in range(200)])
    args = [
        "--config", "dummy.toml", "broadcast", "--recipients", str(path),
        "--text", "Hi {name}", "--journal", str(journal), "--concurrency", "2",
    ]  # fmt: skip
    process = start_script(*args, "--id", "nightly")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                states = journal_rows(journal, "nightly")
            except (ValidationError, sqlite3.OperationalError):
                states = {}  # the broadcast is not recorded yet
            if sum(state == "delivered" for state, _ in states.values()) >= 10:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the broadcast never got going")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "--resume nightly" in stderr
    states = journal_rows(journal, "nightly")
    assert "in_flight" not in {state for state, _ in states.values()}
    delivered_before = sum(state == "delivered" for state, _ in states.values())
    assert 10 <= delivered_before < 200

    resumed = subprocess.run(
        [str(script), *args, "--resume", "nightly", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=script_env, timeout=60,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["already_delivered"] == delivered_before
    assert report["delivered"] == 200 - delivered_before
    final = journal_rows(journal, "nightly")
    assert len(final) == 200
    assert {(state, attempts) for state, attempts in final.values()} == {("delivered", 1)}

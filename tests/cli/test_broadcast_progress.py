"""``broadcastio broadcast`` as a person at a terminal meets it.

The broadcast id is on stderr before anything is sent, an interruption ends
with a command that resumes when pasted into a shell, the summary counts the
rows never read, the progress line's rate and ETA are this run's, and log
lines never land on the progress line. The terminal tests give the real
console script a pseudo-terminal as stderr and replay what it wrote.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio import ValidationError
from broadcastio.broadcast import Journal, RecipientOutcome, RecipientStatus
from broadcastio.cli.progress import BroadcastProgress, format_eta
from broadcastio.records.result import DeliveryResult

ETA = re.compile(r"(\d+)/(\d+) .* ETA (\d+):(\d\d):(\d\d)")


def write_rows(path: Path, count: int, start: int = 0) -> Path:
    path.write_text(
        "recipient,name\n" + "".join(f"+{1000 + n},n{n}\n" for n in range(start, count))
    )
    return path


def screen_lines(raw: str) -> list[str]:
    """What a terminal shows for ``raw``: ``\\r`` returns to the margin, text overwrites."""
    lines = [""]
    column = 0
    for char in raw:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append("")
            column = 0
        else:
            line = lines[-1].ljust(column)
            lines[-1] = line[:column] + char + line[column + 1 :]
            column += 1
    return [line.rstrip() for line in lines]


def run_on_terminal(
    script: Path, env: dict[str, str], cwd: Path, *args: str
) -> tuple[int, str, str]:
    """Run the console script with stderr on a pseudo-terminal: (exit code, stdout, stderr)."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [str(script), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=child,
        cwd=cwd,
        env={**env, "COLUMNS": "160"},
    )
    os.close(child)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    stdout, _ = process.communicate(timeout=60)
    reader.join(timeout=10)
    os.close(main)
    return process.returncode, stdout.decode(), b"".join(chunks).decode()


# -- the progress line ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outcome(status: RecipientStatus, index: int) -> RecipientOutcome:
    sent = status in (RecipientStatus.DELIVERED, RecipientStatus.FAILED)
    result = DeliveryResult(success=status is RecipientStatus.DELIVERED, provider="dummy")
    return RecipientOutcome(
        broadcast_id="b",
        index=index,
        recipient=f"+{index}",
        reference_id="r",
        status=status,
        result=result if sent else None,
    )


def test_rate_and_eta_count_the_sends_of_this_run_only() -> None:
    """A resume skips 59 delivered rows at once; they must not make the ETA zero."""
    clock = FakeClock()
    progress = BroadcastProgress(100, io.StringIO(), enabled=False, clock=clock)
    for index in range(59):
        progress.update(outcome(RecipientStatus.ALREADY_DELIVERED, index))
    assert (progress.rate, progress.eta_seconds) == (None, None)
    assert "ETA --:--:--" in progress.line()
    clock.now += 2.0
    progress.update(outcome(RecipientStatus.DELIVERED, 59))
    progress.update(outcome(RecipientStatus.FAILED, 60))
    assert progress.rate == pytest.approx(1.0)  # two sends in two seconds
    assert progress.eta_seconds == pytest.approx(39.0)  # 39 rows left at one a second
    assert progress.line().endswith("61/100  60 delivered, 1 failed  1.0 msg/s  ETA 0:00:39")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "--:--:--"), (0, "0:00:00"), (0.2, "0:00:01"), (59.6, "0:01:00"), (3725, "1:02:05")],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


def test_a_log_line_is_written_above_the_progress_line_not_into_it(
    script: Path, script_env: dict[str, str], tmp_path: Path, dummy_config: Callable[..., Path]
) -> None:
    dummy_config(fail_first=3, fail_code="INVALID_RECIPIENT", latency=0.01)
    write_rows(tmp_path / "team.csv", 30)
    code, _, stderr = run_on_terminal(
        script, script_env, tmp_path, "--config", "dummy.toml", "broadcast",
        "--recipients", "team.csv", "--text", "Hi {name}", "--no-journal", "--concurrency", "1",
    )  # fmt: skip
    assert code == 1  # three rows failed
    shown = screen_lines(stderr)
    warnings = [line for line in shown if "warning:" in line]
    assert len(warnings) == 1, shown
    assert warnings[0].startswith("broadcastio: warning: broadcast ")
    assert "INVALID_RECIPIENT for '+1000'" in warnings[0]
    assert "broadcasting [" not in warnings[0]
    assert any(line.startswith("broadcasting [") for line in shown)  # the bar was there


def test_on_a_resume_the_eta_is_not_zero_while_rows_are_left(
    script: Path, script_env: dict[str, str], tmp_path: Path, dummy_config: Callable[..., Path]
) -> None:
    """The reported failure: a resume's bar said ``59% 00:00:00`` with seconds left.

    Each send sleeps 0.2 s (the dummy's latency), so while rows remain the
    estimate at this run's rate is at least 0.2 s a row: never zero.
    """
    dummy_config(latency=0.2)
    common = ("--config", "dummy.toml", "broadcast", "--text", "Hi", "--journal", "j.sqlite")
    first = run_on_terminal(
        script, script_env, tmp_path, *common, "--recipients",
        str(write_rows(tmp_path / "first.csv", 6)), "--id", "r",
    )  # fmt: skip
    assert first[0] == 0, first[2]
    code, _, stderr = run_on_terminal(
        script, script_env, tmp_path, *common, "--recipients",
        str(write_rows(tmp_path / "all.csv", 10)), "--resume", "r", "--concurrency", "1",
    )  # fmt: skip
    assert code == 0, stderr
    frames = [match.groups() for match in ETA.finditer(stderr.replace("\r", "\n"))]
    estimated = [
        (int(done), int(h) * 3600 + int(m) * 60 + int(s))
        for done, total, h, m, s in frames
        if int(done) < int(total) and int(done) > 6  # rows left, and this run sent some
    ]
    assert estimated, stderr
    assert all(seconds > 0 for _, seconds in estimated), estimated


# -- the broadcast id, the resume command, the rows never read -------------------------------


def wait_for_deliveries(journal: Path, broadcast_id: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if journal.exists():
            try:
                with Journal(journal, create=False) as opened:
                    states = [str(row.state) for row in opened.rows(broadcast_id)]
            except (ValidationError, sqlite3.OperationalError):
                states = []  # not recorded yet
            if states.count("delivered") >= count:
                return
        time.sleep(0.05)
    pytest.fail("the broadcast never got going")


def resume_hint(stderr: str) -> str:
    hints = [line for line in stderr.splitlines() if "resume with: " in line]
    assert len(hints) == 1, stderr
    return hints[0].split("resume with: ", 1)[1]


def paste(
    hint: str, script: Path, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``hint`` the way a person would: pasted into a POSIX shell, the command on PATH."""
    path = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["/bin/sh", "-c", hint + " --json"],
        capture_output=True, text=True, cwd=cwd, env={**env, "PATH": path}, timeout=60,
    )  # fmt: skip


def test_an_interrupted_run_counts_unread_rows_and_prints_a_pasteable_resume(
    start_script, script: Path, script_env: dict[str, str], tmp_path: Path, write_config
) -> None:
    """Names with spaces and quotes, options before and after the command: all survive."""
    write_config('[orchestrator]\norder = ["dummy"]\n[providers.dummy]\nlatency = 0.05\n',
                 name="it's slow.toml")  # fmt: skip
    team = write_rows(tmp_path / "my team.csv", 200)
    journal = tmp_path / "the journal.sqlite"
    process = start_script(
        "--config", "it's slow.toml", "broadcast", "--recipients", team.name,
        "--text", "Hi {name}, it's \"done\"", "--journal", journal.name,
        "--concurrency", "2", "--id", "nightly run", "-v",
    )  # fmt: skip
    wait_for_deliveries(journal, "nightly run", 10)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr

    header = re.search(r"\): (\d+) of 200 recipients", stdout)
    assert header is not None, stdout
    read = int(header.group(1))
    not_read = re.search(r"^  not read +(\d+) +stopped before reading them$", stdout, re.M)
    assert not_read is not None, stdout
    assert read < 200 and int(not_read.group(1)) == 200 - read

    hint = resume_hint(stderr)
    assert hint.startswith("broadcastio --config ") and "--resume 'nightly run'" in hint
    assert "--id" not in hint
    resumed = paste(hint, script, script_env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    # Had the shell mangled the template, the journal would refuse the resume
    # (different text for the same id) instead of skipping the delivered rows.
    report = json.loads(resumed.stdout)
    assert report["not_read"] == 0
    assert report["already_delivered"] >= 10
    assert report["delivered"] + report["already_delivered"] == 200
    with Journal(journal, create=False) as opened:
        rows = list(opened.rows("nightly run"))
    assert len(rows) == 200
    assert {str(row.state) for row in rows} == {"delivered"}


def test_the_id_is_printed_first_so_a_double_ctrl_c_does_not_lose_it(
    start_script, script: Path, script_env: dict[str, str], tmp_path: Path, dummy_config
) -> None:
    dummy_config(latency=0.05)
    write_rows(tmp_path / "team.csv", 200)
    process = start_script(
        "--config", "dummy.toml", "broadcast", "--recipients", "team.csv", "--text", "Hi",
        "--journal", "j.sqlite", "--concurrency", "2",
    )  # fmt: skip
    assert process.stderr is not None
    first = process.stderr.readline()
    started = re.fullmatch(
        r"broadcastio: starting broadcast (\S+): 200 recipients, journal \S+\n", first
    )
    assert started is not None, first
    broadcast_id = started.group(1)
    wait_for_deliveries(tmp_path / "j.sqlite", broadcast_id, 5)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    hint = resume_hint(stderr)
    assert hint.endswith(f"--resume {broadcast_id}")
    resumed = paste(hint, script, script_env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["delivered"] + report["already_delivered"] == 200

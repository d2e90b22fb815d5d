"""Helpers of the distributed tests (importable: conftest.py is not, under importlib mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
import pytest

SCRIPT = Path(sys.executable).with_name("broadcastio")


class Processes:
    """``broadcastio`` processes started in the background; all ended when the test ends."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env
        self.started: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []

    def start(self, *args: str, log: str | None = None) -> subprocess.Popen[str]:
        """Start ``broadcastio ARGS``; its stdout and stderr go to ``log`` in the test's folder."""
        log_path = self.cwd / (log or f"process-{len(self.started)}.log")
        with open(log_path, "w") as output:
            process = subprocess.Popen(
                [str(SCRIPT), *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,  # its own process group: its children end with it
            )
        self.started.append(process)
        self.logs.append(log_path)
        return process

    def output(self) -> str:
        """What every process started so far printed: for a failing test's message."""
        return "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in self.logs)

    def worker(
        self,
        queue: str,
        config: Path,
        *extra: str,
        log: str | None = None,
        journal: str = "journal.sqlite",
    ) -> subprocess.Popen[str]:
        """``broadcastio worker`` on ``queue`` with ``config``, sharing the test's journal."""
        return self.start(
            "worker", "--queue", queue, "--journal", journal, "--config", str(config),
            "--redelivery-after", "3", "-v", *extra, log=log,
        )  # fmt: skip

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def write_recipients(path: Path, count: int, prefix: str = "+1555") -> list[str]:
    numbers = [f"{prefix}{index:07d}" for index in range(count)]
    path.write_text("recipient\n" + "".join(f"{number}\n" for number in numbers))
    return numbers

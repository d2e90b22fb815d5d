"""Start-up time of the ``broadcastio`` command: ``make bench``.

Runs the installed console script (the ``broadcastio`` next to this Python) as
a fresh process, the way a shell or cron does, and reports the wall time of
``broadcastio --version`` (interpreter, click and the core's imports) and
``broadcastio plugins --json`` (plus entry-point discovery and importing every
installed plugin, without their SDKs). Target: under 250 ms each on the
reference 2-core machine.

Beside them, in the same run and interleaved run by run so load affects both
alike: ``apprise --version`` (the peer a user would otherwise script) and
``python -c pass`` (the interpreter's own floor). Target: ``broadcastio
--version`` at most 0.6 of ``apprise --version`` (medians). Apprise comes
from the ``bench`` extra; without it that line is skipped.

Each case runs ``--runs`` times after one warm-up run (which fills the OS file
cache); the best run is the least disturbed by other load, the median is what
a user typically waits. The environment is pinned (no configuration file, no
plugin filters) so a developer's set-up does not change the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 250.0
VERSION_RATIO_TARGET = 0.6
CASES = [["--version"], ["plugins", "--json"]]


def script_path() -> Path:
    """The installed console script of the environment running this benchmark."""
    script = Path(sys.executable).with_name("broadcastio")
    if not script.is_file():
        raise SystemExit(f"{script} is missing; install the core first: pip install -e .")
    return script


def pinned_environment(home: Path) -> dict[str, str]:
    """This process's environment without anything that changes what broadcastio loads."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BROADCASTIO_", "_BROADCASTIO_"))
    }
    environ["XDG_CONFIG_HOME"] = str(home)
    return environ


def time_runs(command: list[str], runs: int, environ: dict[str, str], cwd: Path) -> list[float]:
    """Milliseconds of wall time per run (after one untimed warm-up run)."""
    timings = []
    for index in range(runs + 1):
        started = time.perf_counter()
        completed = subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True)
        elapsed = (time.perf_counter() - started) * 1000.0
        if completed.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {completed.stderr.strip()}")
        if index:
            timings.append(elapsed)
    return timings


def compare_version_start_up(script: Path, runs: int, environ: dict[str, str], cwd: Path) -> bool:
    """Print ``--version`` beside Apprise's and a bare interpreter; True if the ratio missed."""
    apprise = Path(sys.executable).with_name("apprise")
    if not apprise.is_file():
        print("apprise --version: skipped (install the bench extra: pip install -e '.[bench]')")
        return False
    commands = {
        "broadcastio --version": [str(script), "--version"],
        "apprise --version": [str(apprise), "--version"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    timings: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):  # interleaved: one run of each per round
        for label, command in commands.items():
            timings[label].extend(time_runs(command, 1, environ, cwd))
    medians = {label: statistics.median(values) for label, values in timings.items()}
    for label, values in timings.items():
        print(f"{label:<30} {min(values):8.1f} {medians[label]:10.1f}")
    ratio = medians["broadcastio --version"] / medians["apprise --version"]
    verdict = "ok" if ratio <= VERSION_RATIO_TARGET else "MISSED"
    label = "ratio to apprise --version"
    print(f"{label:<30} {ratio:8.2f} {'':>10}  <= {VERSION_RATIO_TARGET} {verdict}")
    return ratio > VERSION_RATIO_TARGET


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    args = parser.parse_args(argv)

    script = script_path()
    print(f"broadcastio command start-up ({args.runs} runs each, after a warm-up run)")
    print(f"{'command':<30} {'best ms':>8} {'median ms':>10}  target")
    missed = False
    with tempfile.TemporaryDirectory() as scratch:
        environ = pinned_environment(Path(scratch))
        for arguments in CASES:
            timings = time_runs([str(script), *arguments], args.runs, environ, Path(scratch))
            best, median = min(timings), statistics.median(timings)
            verdict = "ok" if median < TARGET_MS else "MISSED"
            missed |= median >= TARGET_MS
            label = " ".join(["broadcastio", *arguments])
            print(f"{label:<30} {best:8.1f} {median:10.1f}  < {TARGET_MS:.0f} ms {verdict}")
        missed |= compare_version_start_up(script, args.runs, environ, Path(scratch))
    if missed:
        print("a target was missed; rerun on a quiet machine before concluding anything")
    return 0


if __name__ == "__main__":
    sys.exit(main())

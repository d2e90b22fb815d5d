"""Peak memory and time of ``broadcastio broadcast`` over a large CSV, as a user runs it.

The installed command (``.venv/bin/broadcastio``) broadcasts a generated CSV
through the dummy provider with a journal, in a child process; its peak RSS is
the child's ``ru_maxrss`` (``resource.RUSAGE_CHILDREN``, read after each run
from a fresh grandchild so one run's peak does not hide the next one's).
Targets from issue 15: 100,000 rows <= 60 MB, 1,000,000 rows <= 100 MB, and
1,000,000 rows in no more than 11 times the time of 100,000 (no slowdown as
the journal grows).

``make bench`` runs the 100,000-row case; the 1,000,000-row run takes minutes
on the reference machine, so it runs only with ``--million``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / ".venv" / "bin" / "broadcastio"


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as file:
        file.write("phone,name\n")
        for number in range(rows):
            file.write(f"+1555{number:07d},Person {number}\n")


def measure(rows: int) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one CLI broadcast of ``rows`` rows, journal on."""
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "recipients.csv"
        write_csv(csv_path, rows)
        command = [
            sys.executable,
            __file__,
            "--child",
            str(CLI),
            "broadcast",
            "--provider",
            "dummy",
            "--recipients",
            str(csv_path),
            "--text",
            "Hi {name}, the store closes early today.",
            "--journal",
            str(Path(folder) / "journal.sqlite"),
            "--quiet",
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    peak, seconds = output.split()
    return float(peak), float(seconds)


def child(command: list[str]) -> None:
    """Run ``command``; print its peak RSS in MB and its wall time (a process of its own)."""
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"the broadcast failed ({completed.returncode}): {completed.stderr[-2000:]}")
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--million", action="store_true", help="also run 1,000,000 rows")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    print("broadcastio broadcast --provider dummy --journal, generated CSV (peak RSS, time)")
    failed = False
    peak, small_time = measure(100_000)
    ok = peak <= 60
    failed |= not ok
    verdict = "ok" if ok else "MISSED"
    print(f"  {'100,000 rows':<16} {peak:8.1f} MB {small_time:8.1f} s  <= 60 MB {verdict}")
    if args.million:
        peak, large_time = measure(1_000_000)
        ok = peak <= 100
        ratio = large_time / small_time
        failed |= not ok or ratio > 11
        print(
            f"  {'1,000,000 rows':<16} {peak:8.1f} MB {large_time:8.1f} s  <= 100 MB "
            f"{'ok' if ok else 'MISSED'}; time x{ratio:.1f} of 100,000 rows "
            f"<= 11 {'ok' if ratio <= 11 else 'MISSED'}"
        )
    if failed:
        print("a target was missed; rerun on a quiet machine before concluding anything")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-send overhead now vs an earlier commit, measured in the same run: ``make bench``.

A structural change (moving modules, a new hook caller) must not slow a send
down. Timings from different runs on a shared 2-core machine are not
comparable, so this script exports the earlier commit's ``broadcastio`` and
dummy plugin with ``git archive`` into a temporary folder and runs
``bench/bench_send.py`` against each tree in turn, alternating, for several
rounds. It reports, per case, the best time of each side and the ratio
``earlier / now`` (above 1: now is faster; the target for the layer refactor
is at least 0.95).

The earlier commit defaults to the parent of the commit that introduced
``tests/test_layers.py`` (the main branch just before the layers), or
``--rev``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "bench_send.py"
LINE = re.compile(r"^(?P<case>send[^\d]*?)\s+(?P<micros>\d+\.\d+)\s", re.MULTILINE)


def git(*args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True).stdout


def default_revision() -> str:
    added = git("log", "--diff-filter=A", "--format=%H", "--", "tests/test_layers.py").split()
    if not added:
        raise SystemExit("no commit adds tests/test_layers.py; pass --rev")
    return added[-1].decode() + "~1"


def export(revision: str, into: Path) -> Path:
    """The source trees of ``revision`` that a send needs, under ``into``."""
    archive = git("archive", revision, "core/broadcastio", "plugins/broadcastio-dummy/src")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(paths: list[Path], loops: int, repeats: int) -> dict[str, float]:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in paths)}
    output = subprocess.run(
        [sys.executable, str(BENCH), "--loops", str(loops), "--repeats", str(repeats)],
        check=True,
        capture_output=True,
        text=True,
        env=environ,
    ).stdout
    return {match["case"].strip(): float(match["micros"]) for match in LINE.finditer(output)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="the earlier commit (default: main before the layers)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loops", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    revision = args.rev or default_revision()
    label = git("rev-parse", "--short", revision).decode().strip()

    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as folder:
        earlier_root = export(revision, Path(folder))
        earlier = [earlier_root / "core", earlier_root / "plugins/broadcastio-dummy/src"]
        now = [ROOT / "core", ROOT / "plugins/broadcastio-dummy/src"]
        best: dict[str, dict[str, float]] = {"earlier": {}, "now": {}}
        for _ in range(args.rounds):
            for side, paths in (("earlier", earlier), ("now", now)):
                for case, micros in run(paths, args.loops, args.repeats).items():
                    best[side][case] = min(micros, best[side].get(case, float("inf")))

    print(f"send overhead, now vs {label} (best of {args.rounds} alternating rounds)")
    print(f"{'case':<42} {label:>9} {'now':>9}  earlier/now")
    for case, micros in best["now"].items():
        before = best["earlier"].get(case)
        if before is None:
            continue
        print(f"{case:<42} {before:8.2f}u {micros:8.2f}u  {before / micros:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

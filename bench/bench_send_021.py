"""``Orchestrator.send`` now against broadcastio 0.2.1's, measured in the same run: ``make bench``.

Issue 15's targets are ratios to the last release before the rewrite: a send
with ``trace=False`` at most 3 times 0.2.1's, with ``trace=True`` at most 6
times (0.2.1 had no trace, no retries, no health cache: one loop over the
providers). ``bench_send.py`` holds absolute targets (3 us / 6 us on the
reference machine); this script measures the ratio. It fetches the 0.2.1
wheel from PyPI with ``pip download`` (cached in the temporary folder of the
run; the package is never installed), and times the same loop on each side in
a child process of its own, alternating sides for several rounds and keeping
each side's best: one prebuilt message, and a provider whose ``send`` builds
its result with the version's own ``DeliveryResult`` (as every real provider
does; 0.2.1's is a dataclass, today's ``DeliveryResult.delivered`` checks its
arguments and builds a frozen attrs record), ``--loops`` sends per timing.

On a shared machine the absolute figures move with the load; the ratios,
measured in alternating rounds, much less. ``valgrind --tool=callgrind``
counts are steadier still (instructions per send: 0.2.1 about 6,600; this
send about 13,500 with ``trace=False`` and 33,000 with ``trace=True``, where a
traced send under valgrind runs too slowly to reuse a wall-clock stamp).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each child prints microseconds per send: 0.2.1 once, now with trace off and on.
OLD_CHILD = """
import sys, time
from broadcastio.core.message import Message
from broadcastio.core.result import DeliveryResult
from broadcastio.core.health import ProviderHealth
from broadcastio.core.orchestrator import Orchestrator
from broadcastio.providers.base import MessageProvider

class Constant(MessageProvider):
    name = "constant"
    def send(self, message):
        return DeliveryResult(success=True, provider="constant", message_id="c-1")
    def health(self):
        return ProviderHealth("constant", True)

def timed(send, loops):
    started = time.perf_counter()
    for _ in range(loops):
        send()  # the result is dropped, as a caller that only checks it would
    return time.perf_counter() - started

loops, repeats = int(sys.argv[1]), int(sys.argv[2])
orchestrator, message = Orchestrator([Constant()]), Message("+15551234567", "benchmark")
print(min(timed(lambda: orchestrator.send(message), loops) for _ in range(repeats)) / loops * 1e6)
"""

NEW_CHILD = """
import sys, time
from broadcastio import DeliveryResult, Message, MessageProvider, Orchestrator, ProviderHealth

class Constant(MessageProvider):
    name = "constant"
    def send(self, message):
        return DeliveryResult.delivered("constant", "c-1")
    def health(self):
        return ProviderHealth("constant", True)

def timed(send, loops):
    started = time.perf_counter()
    for _ in range(loops):
        send()
    return time.perf_counter() - started

loops, repeats = int(sys.argv[1]), int(sys.argv[2])
orchestrator, message = Orchestrator([Constant()]), Message("+15551234567", "benchmark")
for trace in (False, True):
    send = lambda: orchestrator.send(message, trace=trace)
    print(min(timed(send, loops) for _ in range(repeats)) / loops * 1e6)
"""


def fetch_021(folder: Path) -> Path:
    """The 0.2.1 wheel's ``broadcastio`` package, unpacked under ``folder``."""
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    command += ["--only-binary", ":all:", "-d", str(folder), "broadcastio==0.2.1"]
    subprocess.run(command, check=True)
    (wheel,) = folder.glob("broadcastio-0.2.1-*.whl")
    target = folder / "v021"
    with zipfile.ZipFile(wheel) as archive:
        members = [name for name in archive.namelist() if name.startswith("broadcastio/")]
        archive.extractall(target, members)
    return target


def child(code: str, pythonpath: str | None, loops: int, repeats: int) -> list[float]:
    environ = dict(os.environ)
    if pythonpath is not None:
        environ["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-c", code, str(loops), str(repeats)]
    output = subprocess.run(
        command, check=True, capture_output=True, text=True, env=environ, cwd=tempfile.gettempdir()
    ).stdout
    return [float(line) for line in output.split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loops", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-021-") as folder:
        try:
            old_path = fetch_021(Path(folder))
        except (subprocess.CalledProcessError, ValueError) as error:
            print(f"skipped: broadcastio 0.2.1 could not be fetched ({error})")
            return 0
        old = off = on = float("inf")
        for _ in range(args.rounds):
            (micros,) = child(OLD_CHILD, str(old_path), args.loops, args.repeats)
            old = min(old, micros)
            now_off, now_on = child(NEW_CHILD, None, args.loops, args.repeats)
            off, on = min(off, now_off), min(on, now_on)
    print(f"Orchestrator.send vs broadcastio 0.2.1 (best of {args.rounds} alternating rounds)")
    print(f"  {'0.2.1 send':<24} {old:6.2f} us")
    failed = False
    for label, micros, target in (("send, trace off", off, 3), ("send, trace on", on, 6)):
        ratio = micros / old
        missed = ratio > target
        failed |= missed
        verdict = "MISSED" if missed else "ok"
        print(f"  {label:<24} {micros:6.2f} us  x{ratio:.1f} of 0.2.1  <= x{target} {verdict}")
    if failed:
        print("a target was missed; rerun on a quiet machine before concluding anything")
    return 0


if __name__ == "__main__":
    sys.exit(main())

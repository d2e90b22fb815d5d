"""A broadcast's memory does not grow with its input (a property, not a timing).

The journal deduplicates by its primary key, the admitter keeps a bounded
window of work in flight, and the dummy remembers a bounded window of sent
messages, so ten times the rows must not cost ten times the memory. Measured
with tracemalloc (Python allocations) in a fresh interpreter, so what earlier
tests left behind does not count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHILD = """
import sys, tempfile, tracemalloc
from pathlib import Path
from broadcastio import Message, Orchestrator
from broadcastio.broadcast import broadcast
from broadcastio_dummy import DummyProvider

rows = int(sys.argv[1])
messages = (Message(f"+1555{n:07d}", "Store closes at 6 today") for n in range(rows))
with tempfile.TemporaryDirectory() as folder:
    orchestrator = Orchestrator([DummyProvider(keep_sent=100)])
    tracemalloc.start()
    report = broadcast(orchestrator, messages, concurrency=4, journal=Path(folder) / "j.sqlite")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
assert report.delivered == rows, report
print(peak)
"""


def peak_bytes(rows: int, tmp_path: Path) -> int:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(rows)], capture_output=True, text=True, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    return int(completed.stdout.strip())


def test_ten_times_the_rows_do_not_cost_ten_times_the_memory(tmp_path: Path) -> None:
    small, large = peak_bytes(2_000, tmp_path), peak_bytes(20_000, tmp_path)
    # Linear growth would be 10x; flat is ~1x. Allow slack for allocator noise.
    assert large < small * 1.5, (small, large)

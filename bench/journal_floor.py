"""The raw-SQLite floor of a journaled broadcast: the journal's own writes, and nothing else.

A journaled broadcast cannot be faster than the SQLite work it commits, so
``bench_broadcast.py`` runs this in the same process and reports its own rate
as a ratio of this one (issue 15's target: >= 0.5). The floor does what the
journal does for every batch of ``batch`` recipients, with the journal's own
schema, pragmas and SQL text, straight through ``sqlite3`` on one thread:

1. one transaction inserting the batch as ``pending`` (``sql.insert_pending``),
2. one statement claiming it ``in_flight`` (``sql.claim``), committed before
   any send, and
3. one transaction recording the batch's outcomes (``sql.RECORD_OUTCOME``),
   the group commit a run makes at best.

No messages, no sends, no threads, no checks: values are made from the row
number. ``batch`` is what a run admits at a time at steady state: its
concurrency (half its window), or 32 rows at concurrency 1.

Run on its own: ``python bench/journal_floor.py --batch 4``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from broadcastio.broadcast.journal import sql

NOW = "2026-12-01T00:00:00+00:00"


def floor_rate(count: int, batch: int, *, durable: bool = False) -> float:
    """Recipients per second through the journal's commit pattern, on a fresh file.

    Timed like ``bench_broadcast.broadcast_rate``'s journaled run, from the
    same first step to the same last: a temporary folder made, the file
    created with the schema, every batch written, the connection closed
    (SQLite checkpoints the WAL into the file then) and the folder removed.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(
            Path(folder) / "floor.sqlite", isolation_level=None, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            connection.executescript(sql.SCHEMA)
            connection.execute(sql.INSERT_BROADCAST, ("floor", NOW, NOW))
            (key,) = connection.execute(sql.SELECT_KEY, ("floor",)).fetchone()
            for start in range(0, count, batch):
                numbers = range(start, min(start + batch, count))
                _one_batch(connection, key, numbers)
        finally:
            connection.close()
    return count / (time.perf_counter() - started)


def _one_batch(connection: sqlite3.Connection, key: int, numbers: range) -> None:
    rows = [(f"+1555{n:07d}", n, f"{n:032x}", f"{n:024x}") for n in numbers]
    pending: list[object] = []
    claim: list[object] = []
    for recipient, position, reference_id, digest in rows:
        pending += (key, recipient, position, reference_id, digest, 1, NOW, None, None)
        claim += (key, recipient, position, reference_id, digest, 1, NOW, NOW, None, None)
    connection.execute("BEGIN")
    connection.execute(sql.insert_pending(len(rows)), pending).fetchall()
    connection.execute("COMMIT")
    connection.execute(sql.claim(len(rows)), claim).fetchall()
    outcomes = [
        ("delivered", "dummy", f"id-{position}", None, None, NOW, None, recipient, key, recipient)
        for recipient, position, _, _ in rows
    ]
    connection.execute("BEGIN")
    connection.executemany(sql.RECORD_OUTCOME, outcomes)
    connection.execute("COMMIT")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=4, help="recipients per batch")
    parser.add_argument("--durable", action="store_true", help="synchronous=FULL")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rate = max(
        floor_rate(args.count, args.batch, durable=args.durable) for _ in range(args.repeats)
    )
    print(f"raw SQLite floor, batches of {args.batch}: {rate:,.0f} recipients/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Distributed broadcast throughput: N worker processes on one Redis queue: ``make bench``.

10,000 recipients (``--messages``) are queued with ``broadcastio broadcast
--queue --detach`` while no worker runs, then ``broadcastio worker`` is
started with 1, 2 and 4 processes (4 threads each) and the time from the
first claim (the earliest ``sent_at`` in the journal) to the last outcome (the
latest ``completed_at``) gives messages per second: worker start-up and the
submitter's enqueuing are not counted, only delivering. The provider is the
dummy (no latency), so this is the cost of the machinery: Dramatiq, Redis,
the shared SQLite journal. Goal (issue 16): 2 processes >= 1.6x one process on
the reference 2-core machine.

Then the journal backends in single-process mode: the same number of
recipients through ``broadcast()`` in this process (dummy provider,
concurrency 4), journaled in a fresh SQLite file and in a fresh PostgreSQL
database on a local server (scripts/local_postgres.py, ``fsync=off`` as the
tests run it: the figure is the journal's round trips, not a disk). Skipped,
with the reason, when PostgreSQL or psycopg is missing (``--no-journals``
skips it too).

The Redis server is a real ``redis-server`` on loopback (scripts/local_redis.py).
Without it, or without the ``dramatiq`` extra, this prints why and exits 0:
``make bench`` then runs the other benchmarks.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import local_postgres  # noqa: E402
from local_redis import RedisServer, why_unavailable  # noqa: E402

from broadcastio import Message, Orchestrator  # noqa: E402
from broadcastio.broadcast import Journal, RecipientState, broadcast  # noqa: E402
from broadcastio_dummy import DummyProvider  # noqa: E402

SCRIPT = Path(sys.executable).with_name("broadcastio")
CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\nkeep_sent = 0\n'


def run_once(folder: Path, redis_url: str, messages: int, processes: int, threads: int) -> float:
    """Deliver ``messages`` with ``processes`` worker processes; messages per second."""
    journal = folder / f"journal-{processes}.sqlite"
    environment = {**os.environ, "XDG_STATE_HOME": str(folder / "state")}
    submitted = subprocess.run(
        [str(SCRIPT), "broadcast", "--queue", redis_url, "--journal", str(journal),
         "--config", str(folder / "bench.toml"), "--recipients", str(folder / "people.csv"),
         "--text", "hello", "--id", f"bench-{processes}", "--detach", "-q"],
        env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if submitted.returncode != 0:
        raise SystemExit(f"submitting failed: {submitted.stderr}")
    worker = subprocess.Popen(
        [str(SCRIPT), "worker", "--queue", redis_url, "--journal", str(journal),
         "--config", str(folder / "bench.toml"), "--processes", str(processes),
         "--threads", str(threads), "-q"],
        env=environment, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 900
        while True:
            with Journal(journal, read_only=True) as opened:
                settled = opened.summary(f"bench-{processes}")[RecipientState.DELIVERED]
            if settled == messages:
                break
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"workers stopped or timed out at {settled}/{messages}")
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=120)
    with Journal(journal, read_only=True) as opened:
        rows = list(opened.rows(f"bench-{processes}"))
    first = min(row.sent_at for row in rows if row.sent_at is not None)
    last = max(row.completed_at for row in rows if row.completed_at is not None)
    return messages / (last - first).total_seconds()


def single_process_rate(journal: str, messages: int) -> float:
    """Messages per second of one local broadcast journaled in ``journal`` (path or URL)."""
    provider = DummyProvider(keep_sent=0)
    started = time.perf_counter()
    report = broadcast(
        Orchestrator([provider]),
        (Message(f"+1555{n:07d}", "bench") for n in range(messages)),
        concurrency=4,
        journal=journal,
        broadcast_id="bench",
    )
    elapsed = time.perf_counter() - started
    assert report.delivered == messages, report
    return messages / elapsed


def compare_journals(messages: int) -> None:
    """The single-process broadcast with each journal backend, printed."""
    reason = local_postgres.why_unavailable()
    if reason is None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            reason = "psycopg is not installed: pip install -e '.[postgres]'"
    with tempfile.TemporaryDirectory() as name:
        rates = {"SQLite": single_process_rate(str(Path(name) / "journal.sqlite"), messages)}
    if reason is None:
        with local_postgres.PostgresServer() as server:
            rates["PostgreSQL"] = single_process_rate(server.dsn, messages)
    print(
        f"single-process broadcast, {messages:,} messages through the dummy, concurrency 4, "
        "by journal backend:"
    )
    for backend, rate in rates.items():
        print(f"  {backend:<10} journal: {rate:8,.0f} msg/s")
    if reason is not None:
        print(f"  PostgreSQL journal: skipped: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument(
        "--no-journals", action="store_true", help="skip the SQLite vs PostgreSQL comparison"
    )
    arguments = parser.parse_args()
    if not arguments.no_journals:
        compare_journals(arguments.messages)
    reason = why_unavailable()
    if reason is None:
        try:
            import dramatiq  # noqa: F401
        except ImportError:
            reason = "the dramatiq extra is not installed: pip install -e '.[dramatiq]'"
    if reason is not None:
        print(f"bench_distributed: skipped: {reason}")
        return
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as name, RedisServer() as redis:
        folder = Path(name)
        (folder / "bench.toml").write_text(CONFIG)
        (folder / "people.csv").write_text(
            "recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(arguments.messages))
        )
        for processes in arguments.processes:
            rates[processes] = run_once(
                folder, redis.url, arguments.messages, processes, arguments.threads
            )
    print(
        f"distributed broadcast, {arguments.messages:,} messages through the dummy "
        f"({arguments.threads} threads per process, SQLite journal, {os.cpu_count()} cores):"
    )
    for processes, rate in rates.items():
        print(f"  {processes} worker process(es): {rate:8,.0f} msg/s")
    if 1 in rates and 2 in rates:
        ratio = rates[2] / rates[1]
        verdict = "meets" if ratio >= 1.6 else "misses"
        print(f"  2 processes / 1 process: {ratio:.2f}x ({verdict} the 1.6x goal)")


if __name__ == "__main__":
    main()

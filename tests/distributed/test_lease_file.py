"""The lease file beside an SQLite journal: written whole, removed only by its own token.

The file is the mark that stops a local resume of a queued broadcast. It is
written to a temporary file and renamed over the old one, so a failed write
leaves the previous mark as it was (the old code truncated it first); an
error writing it is a ``JournalError`` naming the file (exit 2), not an
internal error; and a submission's end removes its own mark only, even when a
newer submission rewrites the file at the same moment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from distributed_helpers import write_recipients

from broadcastio.broadcast import Journal
from broadcastio.broadcast.journal.queued import QueuedLease, lease_file

DUMMY_CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n'


def lease(token: str) -> QueuedLease:
    return QueuedLease(
        broadcast_id="b", queue="redis://:***@queue.example:6379/0", since="T", token=token
    )


def test_a_lease_file_that_cannot_be_written_is_a_journal_error_naming_it(
    tmp_path: Path,
    redis_url: str,
    run_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Exit 2 and one line naming the lease file, and nothing queued or left behind."""
    (tmp_path / "broadcastio.toml").write_text(DUMMY_CONFIG)
    write_recipients(tmp_path / "people.csv", 3)
    with Journal(tmp_path / "journal.sqlite"):
        pass
    blocked = lease_file(tmp_path / "journal.sqlite", "blocked")
    blocked.mkdir()  # where the file goes, something it cannot replace
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite",
        "--config", "broadcastio.toml", "--recipients", "people.csv", "--text", "hello",
        "--id", "blocked", "--detach",
    )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("broadcastio: error:")]
    assert errors == lines[-1:] and "Traceback" not in done.stderr, done.stderr
    assert f"journal {blocked} " in errors[0] and "queued lease's mark" in errors[0]
    import redis

    client = redis.Redis.from_url(redis_url)
    assert client.llen("dramatiq:broadcastio") == 0
    assert not list(client.scan_iter("broadcastio:lease:*"))
    assert sorted(path.name for path in tmp_path.glob(".journal.sqlite.queued-*")) == []


_WRITE_OVER_THE_LIMIT = """
import json, resource, sys
from broadcastio.broadcast import Journal
from broadcastio.broadcast.journal.errors import JournalError
from broadcastio.broadcast.journal.queued import QueuedLease
journal = Journal(sys.argv[1])
# Files may grow no larger than 16 bytes from here on: the mark is longer.
resource.setrlimit(resource.RLIMIT_FSIZE, (16, resource.RLIM_INFINITY))
try:
    journal.hold_queued_lease(QueuedLease(broadcast_id="b", queue="q", since="T", token="new"))
except JournalError as error:
    print(json.dumps({"class": "JournalError", "journal": str(error.journal)}))
except BaseException as error:
    print(json.dumps({"class": type(error).__name__}))
else:
    print(json.dumps({"class": None}))
"""


def test_a_failed_write_leaves_the_previous_mark_whole(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    with Journal(journal) as opened:
        opened.hold_queued_lease(lease("old"))
    path = lease_file(journal, "b")
    before = path.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
    done = subprocess.run(
        [sys.executable, "-c", _WRITE_OVER_THE_LIMIT, str(journal)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"class": "JournalError", "journal": str(path)}
    assert path.read_bytes() == before
    with Journal(journal, read_only=True) as opened:
        found = opened.queued_lease("b")
    assert found is not None and found.token == "old"
    assert [one.name for one in tmp_path.iterdir() if one.name.startswith(".")] == []


def test_the_end_of_a_lease_never_removes_a_newer_mark_written_at_the_same_moment(
    tmp_path: Path,
) -> None:
    """A worker ends submission "old"'s lease while submission "new" writes its mark, over
    and over: whatever the interleaving, "new"'s mark is there afterwards."""
    journal = tmp_path / "journal.sqlite"
    # Threads switch as often as Python lets them, so the two calls interleave.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    # Two journal objects, as two processes have: each its own lock.
    with Journal(journal) as worker, Journal(journal) as submitter:
        try:
            for _ in range(300):
                race(worker, submitter)
        finally:
            sys.setswitchinterval(switch_interval)
    assert [one.name for one in tmp_path.iterdir() if "lease" in one.name] == []


def race(worker: Journal, submitter: Journal) -> None:
    """One round: "old"'s end and "new"'s mark at once; then "new"'s own end."""
    worker.hold_queued_lease(lease("old"))
    start = threading.Barrier(2)

    def write_new() -> None:
        start.wait()
        submitter.hold_queued_lease(lease("new"))

    writer = threading.Thread(target=write_new)
    writer.start()
    start.wait()
    worker.end_queued_lease("b", token="old")
    writer.join()
    found = worker.queued_lease("b")
    assert found is not None and found.token == "new"
    worker.end_queued_lease("b", token="new")
    assert worker.queued_lease("b") is None

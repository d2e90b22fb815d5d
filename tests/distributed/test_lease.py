"""A detached broadcast's queued messages hold a lease: no resume sends those rows meanwhile.

``--detach`` returns (and lets go of the journal's claim) while the workers
still have the broadcast's messages. Until the last of them is done, a resume
of that id, local or through the queue, is refused in one line (exit 2)
instead of sending the same rows at the same time as the workers. A lease
whose messages are gone (Redis flushed) is cleared by a resume through the
queue, which can see that.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until, write_recipients

from broadcastio.broadcast import Journal, RecipientState

DUMMY_CONFIG = '[orchestrator]\norder = ["dummy"]\n\n[providers.dummy]\n'


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "broadcastio.toml"
    path.write_text(DUMMY_CONFIG)
    return path


def states(tmp_path: Path, broadcast_id: str) -> dict[RecipientState, int]:
    with Journal(tmp_path / "journal.sqlite", read_only=True) as journal:
        return journal.summary(broadcast_id)


def leases(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("journal.sqlite.queued-*.lease"))


def assert_refused(done, broadcast_id: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"broadcastio: error: broadcast {broadcast_id} was queued")
    assert "still outstanding" in lines[0]
    assert "Traceback" not in done.stderr


def test_a_resume_is_refused_while_the_workers_hold_the_messages(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli
) -> None:
    write_recipients(tmp_path / "people.csv", 30)
    common = (
        "--journal", "journal.sqlite", "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "held", "--detach")
    assert detached.returncode == 0, detached.stderr
    assert len(leases(tmp_path)) == 1
    # No worker yet: all 30 messages are on the queue.
    local = run_cli("broadcast", *common, "--resume", "held")
    assert_refused(local, "held")
    queued = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "held")
    assert_refused(queued, "held")
    assert "(30 message(s) outstanding)" in queued.stderr
    assert states(tmp_path, "held")[RecipientState.PENDING] == 30  # nothing sent by either
    processes.worker(redis_url, config)
    wait_until(lambda: not leases(tmp_path), 60, "the workers to drain the queue")
    assert states(tmp_path, "held")[RecipientState.DELIVERED] == 30
    again = run_cli("broadcast", *common, "--resume", "held", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["already_delivered"] == 30


def test_a_lease_whose_messages_are_gone_is_cleared_by_a_resume_through_the_queue(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli
) -> None:
    import redis

    write_recipients(tmp_path / "people.csv", 5)
    common = (
        "--journal", "journal.sqlite", "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "lost", "--detach")
    assert detached.returncode == 0, detached.stderr
    redis.Redis.from_url(redis_url).flushall()  # the queued messages are lost
    assert_refused(run_cli("broadcast", *common, "--resume", "lost"), "lost")
    processes.worker(redis_url, config)
    resumed = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "lost", "--json")
    assert resumed.returncode == 0, resumed.stderr + processes.output()
    assert json.loads(resumed.stdout)["delivered"] == 5
    wait_until(lambda: not leases(tmp_path), 30, "the lease to end with its messages")


@pytest.mark.parametrize("journal_arg", ["postgresql"], indirect=True)
def test_a_postgres_journals_lease_is_the_redis_counter_alone(
    tmp_path: Path, redis_url: str, config: Path, processes: Processes, run_cli, journal_arg: str
) -> None:
    """A journal on a server has no directory for a lease file: the queue holds the lease.

    A resume through the queue is refused while the messages are outstanding and
    allowed once the workers drained them; no file appears anywhere in the folder.
    """
    write_recipients(tmp_path / "people.csv", 30)
    common = (
        "--journal", journal_arg, "--config", str(config), "--recipients", "people.csv",
        "--text", "hello",
    )  # fmt: skip
    detached = run_cli("broadcast", "--queue", redis_url, *common, "--id", "held", "--detach")
    assert detached.returncode == 0, detached.stderr
    queued = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "held")
    assert_refused(queued, "held")
    assert "(30 message(s) outstanding)" in queued.stderr
    # Another broadcast of the same journal holds no lease of its own yet: not refused.
    other = run_cli("broadcast", "--queue", redis_url, *common, "--id", "other", "--detach")
    assert other.returncode == 0, other.stderr

    def summary(broadcast_id: str) -> dict[RecipientState, int]:
        with Journal(journal_arg, read_only=True) as journal:
            return journal.summary(broadcast_id)

    assert summary("held")[RecipientState.PENDING] == 30  # the refused resume sent nobody
    processes.worker(redis_url, config, journal=journal_arg)
    wait_until(
        lambda: summary("held")[RecipientState.DELIVERED] == 30
        and summary("other")[RecipientState.DELIVERED] == 30,
        60,
        "the workers to drain the queue",
    )

    def resumed() -> bool:
        # The last message's count comes just after its row is journaled.
        again = run_cli("broadcast", "--queue", redis_url, *common, "--resume", "held", "--json")
        if again.returncode == 2 and "still outstanding" in again.stderr:
            return False
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["already_delivered"] == 30
        return True

    wait_until(resumed, 30, "the lease to end with its last message")
    # No lease file, nor a "postgresql:" folder a URL taken for a path would have made.
    assert not [p for p in tmp_path.rglob("*") if "lease" in p.name or "postgres" in p.name]

"""A provider's rate limit in a distributed run: the message waits on the queue, the row says so.

A long ``retry_after`` (a WhatsApp cap) must not fail the rows: the worker
puts the refused message back on the queue with the pause as its delay, notes
"paused until ..." on the row (still ``in_flight``), and the message is sent
again, under the same reference id, once the window reopens. The other rows,
which the fleet's pause would hold longer than a send may wait for a slot,
are deferred the same way instead of failing. The receiver is a real HTTP
server and the provider the webhook plugin (429 with ``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until
from local_http import HttpServer, Reply

from broadcastio.broadcast import Journal, RecipientState

RECIPIENTS = 10


@pytest.fixture
def receiver() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


def webhook_config(tmp_path: Path, receiver: HttpServer) -> Path:
    # A 4 s deadline: a send waits at most 2 s for a fleet slot, so the fleet's
    # 4 s pause is further away than the other rows' sends may wait.
    path = tmp_path / "capped.toml"
    path.write_text(
        '[orchestrator]\norder = ["hook"]\ntimeout = 4\n\n'
        f'[providers.hook]\ntype = "webhook"\nurl = "{receiver.url}/hook"\n'
    )
    return path


def rows(journal: Path, broadcast_id: str) -> list:
    try:
        with Journal(journal, read_only=True) as opened:
            return list(opened.rows(broadcast_id))
    except Exception:  # noqa: BLE001 - the journal or the broadcast is not there yet
        return []


def test_a_long_rate_limit_defers_the_rows_instead_of_failing_them(
    tmp_path: Path, redis_url: str, receiver: HttpServer, processes: Processes
) -> None:
    config = webhook_config(tmp_path, receiver)
    receiver.script(
        "/hook", Reply(status=429, headers={"Retry-After": "4"}, body=b"cap"), method="POST"
    )
    (tmp_path / "people.csv").write_text(
        "recipient\n" + "".join(f"person-{index}\n" for index in range(RECIPIENTS))
    )
    processes.worker(redis_url, config, "--threads", "2", log="worker.log")
    submitter = processes.start(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "capped", "--json",
        log="submitter.log",
    )  # fmt: skip
    journal = tmp_path / "journal.sqlite"

    def a_row_says_paused() -> bool:
        return any(
            row.state is RecipientState.IN_FLIGHT
            and (row.error_message or "").startswith("paused until ")
            and row.error_code is not None
            and row.error_code.value == "RATE_LIMITED"
            for row in rows(journal, "capped")
        )

    wait_until(a_row_says_paused, 60, "a row noted as paused in the journal")
    assert submitter.wait(timeout=120) == 0, processes.output()
    report = json.loads((tmp_path / "submitter.log").read_text().split("\n", 1)[1])
    assert report["delivered"] == RECIPIENTS, processes.output()
    assert report["failed"] == 0
    posts = [request for request in receiver.requests if request.method == "POST"]
    # The refused one was sent again, under its key; every other once.
    assert len(posts) == RECIPIENTS + 1
    keys = [request.header("Idempotency-Key") for request in posts]
    assert keys.count(keys[0]) == 2
    assert len(set(keys)) == RECIPIENTS
    settled = rows(journal, "capped")
    assert {row.state for row in settled} == {RecipientState.DELIVERED}
    assert all(row.error_message is None for row in settled)
    assert "deferred" in (tmp_path / "worker.log").read_text()


def test_a_pause_longer_than_max_pause_fails_the_row(
    tmp_path: Path, redis_url: str, receiver: HttpServer, processes: Processes, run_cli
) -> None:
    config = webhook_config(tmp_path, receiver)
    receiver.script(
        "/hook", Reply(status=429, headers={"Retry-After": "30"}, body=b"cap"), method="POST"
    )
    (tmp_path / "people.csv").write_text("recipient\nperson-0\n")
    processes.worker(redis_url, config, "--max-pause", "10")
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "too-long", "--json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr + processes.output()
    report = json.loads(done.stdout)
    assert report["failed"] == 1
    (row,) = rows(tmp_path / "journal.sqlite", "too-long")
    assert row.state is RecipientState.FAILED
    assert row.error_code is not None and row.error_code.value == "RATE_LIMITED"
    assert len([request for request in receiver.requests if request.method == "POST"]) == 1

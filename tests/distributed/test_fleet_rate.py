"""A provider's rate limit holds across worker processes, measured where the messages arrive.

The receiver is a real HTTP server (scripts/local_http.py) and the provider the
webhook plugin, so each request's arrival time is the receiving side's clock.
Two worker processes each with several threads would send at twice the rate
(or far more) if each paced itself; the fleet's bucket in Redis keeps the
whole fleet at the configured rate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_helpers import Processes
from local_http import HttpServer, Reply

RATE = 10  # per second
MESSAGES = 60


@pytest.fixture
def receiver() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


def webhook_config(tmp_path: Path, receiver: HttpServer, rate_limit: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(
        '[orchestrator]\norder = ["hook"]\n\n'
        f'[providers.hook]\ntype = "webhook"\nurl = "{receiver.url}/hook"\n'
        f'rate_limit = "{rate_limit}"\n'
        # The orchestrator retries (the default policy never does): Dramatiq does not.
        'retry = { max_attempts = 3, retry_on = ["RATE_LIMITED"] }\n'
    )
    return path


def most_in_any_window(times: list[float], seconds: float) -> int:
    """The largest number of arrivals inside any window of ``seconds`` (closed on the left)."""
    times = sorted(times)
    most = 0
    end = 0
    for start, first in enumerate(times):
        while end < len(times) and times[end] < first + seconds:
            end += 1
        most = max(most, end - start)
    return most


def test_two_workers_share_one_rate_limit(
    tmp_path: Path, redis_url: str, receiver: HttpServer, processes: Processes, run_cli
) -> None:
    config = webhook_config(tmp_path, receiver, f"{RATE}/second")
    (tmp_path / "people.csv").write_text(
        "recipient\n" + "".join(f"person-{index}\n" for index in range(MESSAGES))
    )
    for _ in range(2):
        processes.worker(redis_url, config, "--threads", "4")
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello {recipient}", "--id", "paced", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + processes.output()
    assert json.loads(done.stdout)["delivered"] == MESSAGES
    arrivals = [request.received_at for request in receiver.requests if request.method == "POST"]
    assert len(arrivals) == MESSAGES
    # The bucket allows one message per 1/RATE s (burst 1): at most RATE slots in
    # any second. A thread descheduled past its slot arrives late, bunched with
    # the next ones, so a window may hold a few more; two workers pacing only
    # themselves put about 2 * RATE in a second (measured: 21).
    assert most_in_any_window(arrivals, 1.0) <= RATE + 4
    assert most_in_any_window(arrivals, 3.0) <= 3 * RATE + 4
    # Both workers took part: the limit was shared, not met by one worker alone.
    logs = processes.output()
    assert logs.count("delivering from queue") == 2


def test_a_rate_limited_answer_pauses_the_whole_fleet(
    tmp_path: Path, redis_url: str, receiver: HttpServer, processes: Processes, run_cli
) -> None:
    config = webhook_config(tmp_path, receiver, "100/second")
    receiver.script(
        "/hook", Reply(status=429, headers={"Retry-After": "3"}, body=b"slow down"), method="POST"
    )
    (tmp_path / "people.csv").write_text(
        "recipient\n" + "".join(f"person-{index}\n" for index in range(20))
    )
    for _ in range(2):
        processes.worker(redis_url, config, "--threads", "4")
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "paused", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr + processes.output()
    assert json.loads(done.stdout)["delivered"] == 20
    posts = sorted(
        (request for request in receiver.requests if request.method == "POST"),
        key=lambda request: request.received_at,
    )
    refused_at = posts[0].received_at
    # Requests already on their way when the 429 came back may land just after it
    # (at most the other 7 of the 2 x 4 threads); every later one waited for the
    # pause (3 s) to end, in both processes. Without the fleet-wide pause: 12.
    late = [request.received_at - refused_at for request in posts[1:]]
    early = [gap for gap in late if gap < 2.5]
    assert len(early) <= 8, f"{len(early)} requests ignored the fleet's pause: {early}"
    assert len(posts) == 21

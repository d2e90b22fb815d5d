"""A provider's rate limit holds across worker processes, measured where the messages arrive.

The receiver is a real HTTP server (scripts/local_http.py) and the provider the
webhook plugin, so each request's arrival time is the receiving side's clock.
Two worker processes each with several threads would send at twice the rate
(or far more) if each paced itself; the fleet's bucket in Redis keeps the
whole fleet at the configured rate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from distributed_helpers import Processes, wait_until
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
    for number in range(2):
        # -vv: each worker logs every recipient it settles, in its own file.
        processes.worker(redis_url, config, "--threads", "4", "-v", log=f"worker-{number}.log")
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
    # Both workers sent: the limit was shared, not met by one worker alone.
    sent = [
        (tmp_path / f"worker-{number}.log").read_text().count("' delivered") for number in range(2)
    ]
    assert all(count > 0 for count in sent), sent
    assert sum(sent) == MESSAGES


class _HeldReply:
    """A scripted reply (duck-typed ``Reply``) that is not sent before ``ready()`` is true.

    ``local_http`` reads a reply's ``delay`` right before answering: here that
    read blocks until the condition holds (or 60 s pass), then answers at once.
    """

    def __init__(self, ready: Callable[[], bool], reply: Reply) -> None:
        self._ready = ready
        self.status = reply.status
        self.body = reply.body
        self.headers = reply.headers
        self.drop = False

    @property
    def delay(self) -> float:
        deadline = time.monotonic() + 60
        while not self._ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        return 0.0


THREADS = 4  # per worker, 2 workers


def test_a_rate_limited_answer_pauses_the_whole_fleet(
    tmp_path: Path, redis_url: str, receiver: HttpServer, processes: Processes, run_cli
) -> None:
    import redis

    config = webhook_config(tmp_path, receiver, "100/second")
    client = redis.Redis.from_url(redis_url)
    pause_key = "broadcastio:pause:hook"
    senders = 2 * THREADS

    def posts() -> list:
        return [request for request in receiver.requests if request.method == "POST"]

    # The 429 is answered only once every sending thread of the fleet has a
    # request under way (so no thread can book a slot before the pause), and
    # those requests only once the pause is in Redis: from then on, a send
    # booked anywhere in the fleet sees the pause.
    receiver.script(
        "/hook",
        _HeldReply(
            lambda: len(posts()) >= senders,
            Reply(status=429, headers={"Retry-After": "3"}, body=b"slow down"),
        ),
        *[_HeldReply(lambda: client.exists(pause_key) > 0, Reply())] * (senders - 1),
        method="POST",
    )
    (tmp_path / "people.csv").write_text(
        "recipient\n" + "".join(f"person-{index}\n" for index in range(20))
    )
    for _ in range(2):
        processes.worker(redis_url, config, "--threads", str(THREADS))
    watcher: list[float] = []

    def note_pause() -> bool:
        value = client.get(pause_key)
        if value is not None and not watcher:
            watcher.append(int(value) / 1_000_000)  # the pause's end, Redis clock, seconds
        return bool(watcher)

    submitter = processes.start(
        "broadcast", "--queue", redis_url, "--journal", "journal.sqlite", "--config", str(config),
        "--recipients", "people.csv", "--text", "hello", "--id", "paused", "--json",
        log="submitter.log",
    )  # fmt: skip
    wait_until(note_pause, 90, "the fleet's pause in Redis")
    assert submitter.wait(timeout=120) == 0, processes.output()
    report = json.loads((tmp_path / "submitter.log").read_text().split("\n", 1)[1])
    assert report["delivered"] == 20
    arrived = sorted(posts(), key=lambda request: request.received_at)
    # 20 recipients, one of them twice (refused, then sent after the pause).
    assert len(arrived) == 21
    # Every request after the first round was booked after the pause was set,
    # so it reached the receiver only once the pause had ended (same host clock).
    paused_until = watcher[0]
    early = [
        request.received_at for request in arrived[senders:] if request.received_at < paused_until
    ]
    assert early == [], f"{len(early)} requests arrived during the fleet's pause"

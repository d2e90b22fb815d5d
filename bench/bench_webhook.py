"""Webhook throughput: the provider beside a bare keep-alive ``requests.Session``: ``make bench``.

Both post the same N messages (default 2,000) one after the other, from one
thread, to the same recording HTTP/1.1 server on loopback
(``scripts/local_http.py``), which runs in a child process of its own so that
its threads do not share this process's GIL with the client being measured.

* webhook: ``WebhookProvider.send(message)`` for each message (``json``
  format, no signature): building the body from the ``Message``, the
  ``Idempotency-Key``, the POST and mapping the answer onto a
  ``DeliveryResult``.
* bare: a ``requests.Session`` (keep-alive) posting, for each message, the
  very body and headers the provider would send, prepared before the clock
  starts: the floor any client built on requests can reach.

Within each round the two (and the orchestrator line below) take turns in
small slices, the order rotating. The ratio is paired: each slice's bare time
over the provider's time for the same messages, moments apart, so load from
elsewhere on the machine (this is a shared 2-core box) falls on both alike;
a round's ratio is the median of its slices', and the figure is the median of
the rounds. Target: webhook >= 0.9 of bare. A third line, for information, is the
same provider through ``Orchestrator.send`` (trace off, health cached).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_http import HttpServer  # noqa: E402

from broadcastio import Message, Orchestrator  # noqa: E402
from broadcastio_webhook import WebhookProvider  # noqa: E402

PATH = "/services/T0000/B0000/bench"
TEXT = "Backup finished on db1 at 02:14; 1.2 GB in 41 s."


class ServerProcess:
    """The recording HTTP server in a child process; its counter is asked for over a pipe."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end,), daemon=True)
        self._process.start()
        self.url: str = self._pipe.recv()

    def requests(self) -> int:
        self._pipe.send("requests")
        answer: int = self._pipe.recv()
        return answer

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)


def _serve(pipe: Connection) -> None:
    with HttpServer() as server:
        pipe.send(server.url)
        while pipe.recv() != "stop":
            pipe.send(len(server.requests))
            server.clear()  # counted and dropped: memory stays flat across rounds


def messages(count: int) -> list[Message]:
    return [Message(f"ops-{number % 50}", TEXT, title="db1") for number in range(count)]


def webhook_chunk(provider: WebhookProvider, batch: list[Message]) -> float:
    """Seconds to send ``batch`` through the provider."""
    started = time.perf_counter()
    for message in batch:
        if not provider.send(message).success:
            raise SystemExit("the webhook provider failed a send")
    return time.perf_counter() - started


def prepare(batch: list[Message], provider: WebhookProvider) -> list[tuple[bytes, dict[str, str]]]:
    """The provider's exact requests for ``batch`` (body and headers), for the bare loop."""
    from broadcastio_webhook import idempotency_key

    return [
        (
            provider.build_body(message).content,
            {
                "Content-Type": "application/json",
                "Idempotency-Key": idempotency_key(message, str(message.recipient)),
            },
        )
        for message in batch
    ]


def bare_chunk(session: Any, url: str, prepared: list[tuple[bytes, dict[str, str]]]) -> float:
    """Seconds for a keep-alive session to post requests prepared ahead: the floor."""
    started = time.perf_counter()
    for body, headers in prepared:
        response = session.post(url, data=body, headers=headers, timeout=(10, 10))
        if response.status_code != 200:
            raise SystemExit(f"the bare session got HTTP {response.status_code}")
    return time.perf_counter() - started


def orchestrator_chunk(orchestrator: Orchestrator, batch: list[Message]) -> float:
    started = time.perf_counter()
    for message in batch:
        if not orchestrator.send(message).success:
            raise SystemExit("the orchestrator failed a send")
    return time.perf_counter() - started


def one_round(
    provider: WebhookProvider,
    orchestrator: Orchestrator,
    session: Any,
    url: str,
    count: int,
    chunks: int,
) -> tuple[float, float, float, float]:
    """msg/s of the provider, the bare session and the orchestrator, and the paired ratio.

    The three take turns in ``chunks`` slices (the order rotating). Each
    slice's ratio (bare time / provider time) compares two runs made moments
    apart, so load from elsewhere on the machine falls on both alike; the
    round's ratio is the median of its slices'.
    """
    batch = messages(count)
    size = max(1, count // chunks)
    slices = [batch[start : start + size] for start in range(0, count, size)]
    spent = {"ours": 0.0, "bare": 0.0, "through": 0.0}
    paired: list[float] = []
    for number, piece in enumerate(slices):
        prepared = prepare(piece, provider)
        taken: dict[str, float] = {}
        names = ["ours", "bare", "through"]
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            if name == "ours":
                taken[name] = webhook_chunk(provider, piece)
            elif name == "bare":
                taken[name] = bare_chunk(session, url, prepared)
            else:
                taken[name] = orchestrator_chunk(orchestrator, piece)
        for name, seconds in taken.items():
            spent[name] += seconds
        paired.append(taken["bare"] / taken["ours"])
    return (
        count / spent["ours"],
        count / spent["bare"],
        count / spent["through"],
        statistics.median(paired),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (default 5)")
    parser.add_argument(
        "--chunks", type=int, default=20, help="turns per round each side takes (default 20)"
    )
    args = parser.parse_args()

    import requests

    server = ServerProcess()
    url = server.url + PATH
    try:
        provider = WebhookProvider(url=url)
        orchestrator = Orchestrator([WebhookProvider(url=url, name="webhook")], health_ttl=3600)
        session = requests.Session()
        session.headers["User-Agent"] = "broadcastio-webhook/0.1"
        # Warm-up: connections opened, imports done, health cached.
        one_round(provider, orchestrator, session, url, 60, 3)
        server.requests()
        ours: list[float] = []
        bare: list[float] = []
        through: list[float] = []
        ratios: list[float] = []
        received = 0
        for _ in range(args.rounds):
            rates = one_round(provider, orchestrator, session, url, args.n, args.chunks)
            ours.append(rates[0])
            bare.append(rates[1])
            through.append(rates[2])
            ratios.append(rates[3])
            received += server.requests()
        provider.close()
        orchestrator.close()
        session.close()
    finally:
        server.stop()

    expected = 3 * args.n * args.rounds
    if received != expected:
        raise SystemExit(f"the server received {received} requests, expected {expected}")
    ratio = statistics.median(ratios)
    print(
        f"Webhook throughput, N={args.n} POSTs per round, 1 thread, keep-alive, to a local "
        f"HTTP/1.1 server in another process; {args.rounds} rounds, median"
    )
    print(f"{'':<44} {'msg/s':>8}  (totals; noisy under load, the ratio is paired)")
    print(f"{'WebhookProvider.send (json)':<44} {statistics.median(ours):8.0f}")
    print(f"{'bare requests.Session.post, same requests':<44} {statistics.median(bare):8.0f}")
    print(f"{'Orchestrator.send + WebhookProvider':<44} {statistics.median(through):8.0f}")
    per_round = ", ".join(f"{value:.2f}" for value in ratios)
    verdict = "ok" if ratio >= 0.9 else "MISSED"
    print(f"{'ratio provider/bare (target >= 0.9)':<44} {ratio:8.2f}  {verdict}  ({per_round})")


if __name__ == "__main__":
    main()

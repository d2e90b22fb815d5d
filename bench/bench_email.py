"""Email throughput: broadcastio's email provider beside Apprise's ``mailto://``: ``make bench``.

Both send the same N messages (default 1,000, one recipient each) to the same
local SMTP server (aiosmtpd on loopback, ``scripts/local_smtp.py``, in a child
process of its own), in the same run, over the same security: STARTTLS with a
certificate made for the run and AUTH, the way a real submission server is
reached. Both use 4 threads.

* broadcastio: ``broadcast()`` with ``concurrency=4`` through
  ``EmailProvider``, which keeps one SMTP connection per sending thread.
* Apprise: 4 threads calling ``notify()`` on pre-built ``Apprise`` objects
  (one per recipient, built before the clock starts), which opens, upgrades,
  logs in and closes a connection per message.

Reported: messages/s and the SMTP connections the server accepted. Target:
broadcastio >= 3x Apprise, with at most ``concurrency`` connections in all
(the health check's connection is adopted by the first sending thread).
Apprise is installed only for the benchmark (the ``bench`` extra);
``import broadcastio`` never imports it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_smtp import SmtpServer, make_certificate  # noqa: E402

from broadcastio import Message, Orchestrator  # noqa: E402
from broadcastio.broadcast import broadcast  # noqa: E402
from broadcastio_email import EmailProvider  # noqa: E402

CONCURRENCY = 4
USER = "alerts@example.com"
PASSWORD = "bench-app-password"
TEXT = "Store closes early today: 6 pm."


class ServerProcess:
    """The local SMTP server in a child process, so it does not share this one's GIL.

    In the same process the server's thread and the senders' threads would
    take turns on one interpreter lock, and the figure would measure that
    contention. Counters are asked for over a pipe.
    """

    def __init__(self, certificate: Path, key: Path) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child_end, certificate, key), daemon=True
        )
        self._process.start()
        self.host, self.port = self._pipe.recv()

    def _ask(self, question: str) -> int:
        self._pipe.send(question)
        answer: int = self._pipe.recv()
        return answer

    @property
    def connections(self) -> int:
        return self._ask("connections")

    @property
    def received(self) -> int:
        return self._ask("received")

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)


def _serve(pipe: Connection, certificate: Path, key: Path) -> None:
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation notes
    server = SmtpServer(certificate=certificate, key=key, users={USER: PASSWORD}).start()
    pipe.send((server.host, server.port))
    try:
        while (question := pipe.recv()) != "stop":
            if question == "connections":
                pipe.send(server.connections)
            else:
                pipe.send(len(server.handler.raw_messages))
    finally:
        server.stop()


def recipients(count: int) -> list[str]:
    return [f"person{number}@example.org" for number in range(count)]


def broadcastio_round(server: ServerProcess, certificate: Path, count: int) -> tuple[float, int]:
    """Messages/s and connections opened for one broadcast of ``count`` messages."""
    provider = EmailProvider(
        host=server.host,
        port=server.port,
        username=USER,
        password=PASSWORD,
        from_address=f"Alerts <{USER}>",
        ca_file=str(certificate),
    )
    messages = [Message(address, TEXT, title="Opening hours") for address in recipients(count)]
    before = server.connections
    started = time.perf_counter()
    with Orchestrator([provider]) as orchestrator:
        report = broadcast(orchestrator, messages, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - started
    if report.delivered != count:
        raise SystemExit(f"broadcastio delivered {report.delivered} of {count}")
    return count / elapsed, server.connections - before


def apprise_round(server: ServerProcess, count: int) -> tuple[float, int]:
    """Messages/s and connections opened for Apprise sending the same ``count`` messages."""
    import apprise

    login = quote(USER, safe="")
    objects = []
    for address in recipients(count):
        notifier = apprise.Apprise()
        url = (
            f"mailto://{login}:{PASSWORD}@{server.host}:{server.port}"
            f"?smtp={server.host}&from={USER}&to={address}&mode=starttls"
        )
        if not notifier.add(url):
            raise SystemExit(f"Apprise refused the URL for {address}")
        objects.append(notifier)
    before = server.connections
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        results = list(
            pool.map(lambda notifier: notifier.notify(body=TEXT, title="Opening hours"), objects)
        )
    elapsed = time.perf_counter() - started
    if not all(results):
        raise SystemExit(f"Apprise failed {results.count(False)} of {count}")
    return count / elapsed, server.connections - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="messages per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds each, best kept (default 2)")
    args = parser.parse_args()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's own deprecation notes
    try:
        import apprise  # noqa: F401
    except ImportError:
        raise SystemExit(
            "bench_email needs Apprise for the comparison: pip install -e '.[bench]'"
        ) from None

    with tempfile.TemporaryDirectory() as folder:
        certificate, key = make_certificate(Path(folder))
        # Apprise has no CA setting: it trusts what Python's default context
        # trusts, which SSL_CERT_FILE extends to the run's certificate.
        os.environ["SSL_CERT_FILE"] = str(certificate)
        server = ServerProcess(certificate, key)
        try:
            ours: list[tuple[float, int]] = []
            theirs: list[tuple[float, int]] = []
            for _ in range(args.rounds):
                ours.append(broadcastio_round(server, certificate, args.n))
                theirs.append(apprise_round(server, args.n))
            received = server.received
        finally:
            server.stop()

    best_ours, best_theirs = max(ours), max(theirs)
    ratio = best_ours[0] / best_theirs[0]
    print(
        f"Email throughput, N={args.n} messages, {CONCURRENCY} threads, STARTTLS + AUTH to a "
        f"local aiosmtpd, best of {args.rounds} rounds ({received} messages received)"
    )
    print(f"{'':<40} {'msg/s':>8} {'SMTP connections':>17}")
    print(f"{'broadcastio broadcast() + EmailProvider':<40} {best_ours[0]:8.0f} {best_ours[1]:17d}")
    print(f"{'Apprise mailto:// notify()':<40} {best_theirs[0]:8.0f} {best_theirs[1]:17d}")
    verdict = "ok" if ratio >= 3 else "MISSED"
    print(f"{'ratio (target >= 3)':<40} {ratio:8.2f}  {verdict}")
    connections_ok = all(opened <= CONCURRENCY for _, opened in ours)
    print(
        f"{'connections (target <= concurrency)':<40} "
        f"{max(opened for _, opened in ours):8d}  {'ok' if connections_ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

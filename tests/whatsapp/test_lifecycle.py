"""Closing a WhatsApp provider really releases its keep-alive connections to the bridge.

Observed from the server's side: a loopback HTTP server that keeps connections
alive (as the bridge does) and notes when the client hangs up on one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from broadcastio import Message, Orchestrator
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings

MESSAGE = Message("+15551234567", "hello")
# Generous: how long to wait for the server to see a hang-up that should come at once.
PATIENCE = 30.0


class KeepAliveBridge:
    """Answers every POST with a delivered message and tracks each connection's life.

    ``together`` holds the first requests until that many have arrived, so
    concurrent senders are sure to open that many connections at once.
    """

    def __init__(self, together: int = 1) -> None:
        self.opened = 0
        self.ended = 0
        self.changed = threading.Condition()
        self.barrier = threading.Barrier(together)
        bridge = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with bridge.changed:
                    bridge.opened += 1
                    bridge.changed.notify_all()

            def finish(self) -> None:
                # handle() returns once the client closes its end: the hang-up we look for.
                super().finish()
                with bridge.changed:
                    bridge.ended += 1
                    bridge.changed.notify_all()

            def do_GET(self) -> None:  # the session state health asks for
                self._answer(200, {"state": "READY", "ready": True})

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not bridge.barrier.broken:
                    try:
                        bridge.barrier.wait(PATIENCE)
                    except threading.BrokenBarrierError:
                        pass
                self._answer(201, {"id": "wamid.1"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def open_connections(self) -> int:
        with self.changed:
            return self.opened - self.ended

    def wait_until_all_ended(self) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.opened == self.ended, PATIENCE)


@pytest.fixture
def keep_alive_bridge() -> Iterator[Any]:
    def start(together: int = 1) -> KeepAliveBridge:
        bridge = KeepAliveBridge(together)
        thread = threading.Thread(
            target=bridge.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        started.append(bridge)
        return bridge

    started: list[KeepAliveBridge] = []
    yield start
    for bridge in started:
        bridge.barrier.abort()
        bridge.httpd.shutdown()
        bridge.httpd.server_close()


def send_concurrently(provider: WhatsAppProvider, count: int) -> None:
    results = []

    def send() -> None:
        results.append(provider.send(MESSAGE))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [result.success for result in results] == [True] * count


def test_leaving_with_hangs_up_every_pooled_connection(keep_alive_bridge) -> None:
    bridge = keep_alive_bridge(together=3)
    settings = WhatsAppSettings(base_url=bridge.url, api_key="k", pool_size=3)
    with WhatsAppProvider(settings) as provider:
        send_concurrently(provider, 3)
        # Kept alive for the next sends: the pool holds three open connections.
        assert bridge.open_connections() == 3
    assert bridge.wait_until_all_ended()
    assert bridge.opened == 3

    # Closed for good: a later send fails without dialling the bridge again.
    assert not provider.send(MESSAGE).success
    provider.close()  # a second close is harmless
    assert bridge.opened == 3


def test_an_orchestrator_from_plugins_hangs_up_when_closed(keep_alive_bridge) -> None:
    bridge = keep_alive_bridge()
    with Orchestrator.from_plugins(
        ["whatsapp"], settings={"whatsapp": {"base_url": bridge.url, "api_key": "k"}}
    ) as orchestrator:
        assert orchestrator.health()[0].ready
        assert orchestrator.send(MESSAGE).success
        assert bridge.open_connections() == 1  # health and send shared one connection
    assert bridge.wait_until_all_ended()

"""A real HTTP server on loopback that records every request and answers from a script.

Used by the webhook and Apprise tests and by ``bench/``: a receiving service
(Slack, ntfy, a user's own endpoint) cannot be reached here, so the tests post
to this server and assert on the request it actually received — method, path,
headers and raw body bytes — as a real receiver would see them.

Replies are scripted per path: ``server.script("/hook", Reply(429, headers=
{"Retry-After": "7"}))`` answers the next request to ``/hook`` with that reply,
then falls back to ``server.default`` (200, ``ok``). A reply can also wait
(``delay``) before answering, to drive client timeouts, or drop the connection
without answering (``drop=True``).

Run it as a script to get a server on a free port that prints its URL:
``python scripts/local_http.py``.
"""

from __future__ import annotations

import argparse
import http.server
import socketserver
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["HttpServer", "RecordedRequest", "Reply"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server read it off the socket."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    def header(self, name: str) -> str | None:
        """A header by name, case-insensitively (HTTP header names are)."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What the server answers: a status, headers, a body; or a delay or a dropped connection."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
    # The status line and headers go out in one write and the body in another;
    # with Nagle's algorithm on, the body then waits for the client's delayed
    # ACK (~40 ms), and every request looked that slow.
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner._record(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), body, time.time())
        )
        reply = owner._next_reply(path, self.command)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        headers = {"Content-Type": "text/plain; charset=utf-8", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _serve  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Silent: the tests read ``server.requests``, not stderr."""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HttpServer


class HttpServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 and a free port; use it as a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        certificate: Path | None = None,
        key: Path | None = None,
    ) -> None:
        self._server = _Server((host, port), _Handler)
        # With a certificate (``local_smtp.make_certificate``), HTTPS: a client
        # given the certificate as its CA verifies the server for real.
        self.scheme = "http"
        if certificate is not None:
            import ssl

            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._server.owner = self
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        # Keyed by (method, path); method None answers any method.
        self._scripts: dict[tuple[str | None, str], deque[Reply]] = {}
        self._arrived = threading.Condition(self._lock)
        self.default = Reply()
        self._thread: threading.Thread | None = None
        # Counted per TCP connection accepted, so a test can check keep-alive reuse.
        self.connections = 0
        original = self._server.process_request

        def counting(request: Any, client_address: Any) -> None:
            with self._lock:
                self.connections += 1
            original(request, client_address)

        self._server.process_request = counting  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def script(self, path: str, *replies: Reply, method: str | None = None) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order.

        With ``method`` (``"POST"``), only requests of that method take these
        replies, so a health check's ``HEAD`` does not use up a reply scripted
        for the sends.
        """
        with self._lock:
            self._scripts.setdefault((method, path), deque()).extend(replies)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have arrived (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._requests)} of {count} requests arrived")
                self._arrived.wait(left)
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripts.clear()
            self.connections = 0

    def _record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()

    def _next_reply(self, path: str, method: str | None = None) -> Reply:
        with self._lock:
            for key in ((method, path), (None, path)):
                queued = self._scripts.get(key)
                if queued:
                    return queued.popleft()
            return self.default

    def start(self) -> HttpServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with HttpServer(port=args.port) as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

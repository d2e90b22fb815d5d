"""A scripted HTTP server on loopback, standing in for a misbehaving bridge or proxy."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class ScriptedServer:
    """Answers each request with the next scripted (status, body, headers, delay)."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, Any, dict[str, str], float, bool]] = []
        self.requests: list[dict[str, Any]] = []
        self.connections: set[tuple[str, int]] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real bridge does

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                # http.server writes headers and body separately; without this,
                # Nagle + delayed ACK add ~40 ms to every keep-alive request.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                server.connections.add(self.client_address)
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "json": json.loads(raw) if raw else None,
                    }
                )
                status, body, headers, delay, reset = (
                    server.responses.pop(0)
                    if server.responses
                    else (201, {"id": "x"}, {}, 0, False)
                )
                if delay:
                    time.sleep(delay)
                if reset:
                    # Abort the connection with an RST instead of answering.
                    self.request.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    return
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                if not isinstance(body, bytes):
                    self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that gave up (the read-timeout test) leaves a broken
                # pipe behind; that is the scenario, not a server fault.
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def script(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        delay: float = 0,
        reset: bool = False,
    ) -> None:
        self.responses.append((status, {} if body is None else body, headers or {}, delay, reset))


@pytest.fixture
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    thread = threading.Thread(
        target=server.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


BRIDGE_API_KEY = "whatsapp-tests-key-7d2e"


@pytest.fixture(scope="session")
def real_bridge() -> Iterator[Any]:
    """The real node-bridge with its fake WhatsApp driver and an API key, on loopback.

    Auth and health are the bridge's own behaviour, so they are tested against
    it rather than against a script of what we think it answers.
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from local_bridge import BridgeStartError, LocalBridge

    try:
        bridge = LocalBridge({"BRIDGE_API_KEY": BRIDGE_API_KEY})
    except BridgeStartError as error:
        pytest.fail(str(error))
    try:
        yield bridge
    finally:
        bridge.stop()


@pytest.fixture
def bridge(real_bridge: Any) -> Any:
    """The session's real bridge, reset to a READY fake WhatsApp with nothing sent."""
    real_bridge.reset()
    return real_bridge


@pytest.fixture
def run_broadcastio(tmp_path: Any) -> Any:
    """Run the installed ``broadcastio`` script in an empty directory with a sealed environment.

    No BROADCASTIO_* variable and no user configuration leak in; ``env`` adds
    exactly the variables a test is about.
    """
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("broadcastio")
    if not script.is_file():
        pytest.fail(f"{script} is missing: run `pip install -e .` in the project")
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("BROADCASTIO_", "_BROADCASTIO_"))
    }
    base.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"))
    base.pop("PYTHONPATH", None)

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            input="",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**base, **(env or {})},
            timeout=60,
        )

    return run

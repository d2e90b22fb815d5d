"""Run the repository's node-bridge as a child process: for the demo, the benchmarks, the tests.

Not part of any installed package: it knows this repository's layout. The bridge
is started on a free loopback port (``BRIDGE_PORT=0``) and found through the one
JSON log line it writes when listening (``{"event": "listening", "port": ...}``),
which is logged at level info: do not start it with ``BRIDGE_LOG_LEVEL`` above that.
Its output is drained for the process's whole life, so a full pipe never blocks
it, and kept in ``log_lines``.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
BRIDGE_DIR = ROOT / "node-bridge"


class BridgeStartError(RuntimeError):
    """The bridge could not be started; the message includes the end of its output."""


class LocalBridge:
    """A node-bridge child process, with helpers for the fake driver's control routes."""

    def __init__(self, env: dict[str, str] | None = None, startup_seconds: float = 20) -> None:
        node = shutil.which("node")
        if node is None:
            raise BridgeStartError("node is not on PATH; the bridge needs Node.js >= 20")
        if not (BRIDGE_DIR / "node_modules").is_dir():
            raise BridgeStartError(
                "node-bridge/node_modules is missing; run `make test` or `make demo`"
            )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")},
            "BRIDGE_DRIVER": "fake",
            "BRIDGE_PORT": "0",
            "BRIDGE_HOST": "127.0.0.1",
            **(env or {}),
        }
        self.api_key = self.env.get("BRIDGE_API_KEY")
        self.log_lines: list[str] = []
        self._http = requests.Session()
        self.process = subprocess.Popen(
            [node, "src/server.js"],
            cwd=BRIDGE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self._wait_until_listening(startup_seconds)

    def _wait_until_listening(self, startup_seconds: float) -> str:
        lines: queue.Queue[str | None] = queue.Queue()

        def drain() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.log_lines.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()
        while True:
            try:
                line = lines.get(timeout=startup_seconds)
            except queue.Empty:
                self.process.kill()
                raise BridgeStartError(
                    f"bridge did not report listening: {self.output()}"
                ) from None
            if line is None:
                code = self.process.wait()
                raise BridgeStartError(f"bridge exited with status {code}: {self.output()}")
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == "listening":
                return f"http://127.0.0.1:{record['port']}"

    def output(self, limit: int = 2000) -> str:
        """The end of what the bridge printed."""
        return "".join(self.log_lines)[-limit:]

    # -- the fake driver's control routes ----------------------------------------------
    def sent(self) -> list[dict[str, Any]]:
        response = self._http.get(f"{self.url}/__fake/sent", timeout=5)
        response.raise_for_status()
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    def set_state(self, state: str, error: str | None = None) -> None:
        body: dict[str, Any] = {"state": state, **({"error": error} if error else {})}
        self._post("/__fake/state", body)

    def script(self, *outcomes: dict[str, Any]) -> None:
        self._post("/__fake/script", {"outcomes": list(outcomes)})

    def unregister(self, *numbers: str) -> None:
        self._post("/__fake/unregistered", {"numbers": list(numbers)})

    def reset(self) -> None:
        self._post("/__fake/reset", {})

    def ack(self, message_id: str, ack: str) -> None:
        """Simulate WhatsApp's receipt ``ack`` (SERVER, DEVICE, READ...) for a delivered message."""
        self._post("/__fake/ack", {"id": message_id, "ack": ack})

    def lookups(self) -> list[str]:
        """Numbers the fake's getNumberId was asked about (not answered from the bridge's cache)."""
        response = self._http.get(f"{self.url}/__fake/lookups", timeout=5)
        response.raise_for_status()
        lookups: list[str] = response.json()["lookups"]
        return lookups

    def queue_depth(self) -> int:
        """Sends waiting or running in the bridge, from ``GET /metrics``."""
        headers = {"X-Api-Key": self.api_key} if self.api_key else {}
        response = self._http.get(f"{self.url}/metrics", headers=headers, timeout=5)
        response.raise_for_status()
        for line in response.text.splitlines():
            if line.startswith("bridge_send_queue_depth "):
                return int(float(line.split()[1]))
        raise BridgeStartError(f"no bridge_send_queue_depth in /metrics: {response.text[:200]}")

    def _post(self, path: str, body: dict[str, Any]) -> None:
        self._http.post(f"{self.url}{path}", json=body, timeout=5).raise_for_status()

    # -- lifecycle ---------------------------------------------------------------------
    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings for the whatsapp provider pointing at this bridge."""
        return {"base_url": self.url, "api_key": self.api_key, **overrides}

    def kill(self) -> None:
        """Kill the process outright (no graceful shutdown), as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Ask the bridge to shut down (SIGTERM), killing it if it does not within 10 s."""
        self._http.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> LocalBridge:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

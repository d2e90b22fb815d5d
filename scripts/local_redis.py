"""A real ``redis-server`` on loopback for the tests and the benchmarks: free port, temp dir.

Not part of any installed package. The server runs from Debian's ``redis-server``
binary with no persistence (no RDB snapshots, no AOF: a test's queue dies with
it), in a temporary directory, bound to 127.0.0.1 on a port the kernel picked,
and with a password (``requirepass``) so that a client given the wrong one is
refused as it would be in production. ``RedisServer.url`` carries the password;
``url_without_password`` and ``url_with_password`` make the wrong variants.

``redis_available()`` says whether the binary exists, and ``why_unavailable()``
how to get it, for the fixtures that skip (or, under ``CI=true``, fail).
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "RedisStartError", "redis_available", "why_unavailable"]

INSTALL_HINT = (
    "install Debian's redis-server package (apt-get install redis-server, as root: "
    "`make test` does it when it can)"
)


class RedisStartError(RuntimeError):
    """The server did not start; the message holds the end of its log."""


def redis_available() -> bool:
    """Whether ``redis-server`` is on PATH."""
    return shutil.which("redis-server") is not None


def why_unavailable() -> str | None:
    """``None`` when a server can be started, else what is missing and how to install it."""
    if redis_available():
        return None
    return f"redis-server is not on PATH: {INSTALL_HINT}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class RedisServer:
    """One ``redis-server`` child process; ``start()`` it, ``stop()`` it, or use ``with``."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password if password is not None else secrets.token_hex(12)
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        """``redis://:PASSWORD@127.0.0.1:PORT/0``: what a client needs to connect."""
        return self.url_with_password(self.password)

    def url_with_password(self, password: str) -> str:
        """The server's URL with another password (for the "wrong password" tests)."""
        return f"redis://:{password}@{self.host}:{self.port}/0"

    @property
    def url_without_password(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, startup_seconds: float = 10.0) -> RedisServer:
        """Start the server and wait until it answers PING; ``RedisStartError`` otherwise."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisStartError(why_unavailable() or "redis-server is missing")
        self._directory = tempfile.TemporaryDirectory(prefix="broadcastio-redis-")
        directory = Path(self._directory.name)
        log = directory / "redis.log"
        # A port picked here may be taken before the server binds it; try a few.
        for _ in range(5):
            self.port = _free_port()
            arguments = [
                binary,
                "--port", str(self.port),
                "--bind", self.host,
                "--dir", str(directory),
                "--save", "",
                "--appendonly", "no",
                "--requirepass", self.password,
                "--logfile", str(log),
                "--daemonize", "no",
                "--protected-mode", "yes",
            ]  # fmt: skip
            self.process = subprocess.Popen(
                arguments, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
            )
            if self._wait_until_ready(startup_seconds):
                return self
            self._kill()
            text = log.read_text(errors="replace") if log.exists() else ""
            if "Address already in use" not in text:
                raise RedisStartError(f"redis-server did not start: {text[-2000:]}")
        raise RedisStartError("redis-server could not find a free port in 5 tries")

    def _wait_until_ready(self, startup_seconds: float) -> bool:
        deadline = time.monotonic() + startup_seconds
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if self._ping():
                return True
            time.sleep(0.02)
        return False

    def _ping(self) -> bool:
        """PING with AUTH over a raw socket: no client library needed to start the server."""
        command = (
            f"*2\r\n$4\r\nAUTH\r\n${len(self.password)}\r\n{self.password}\r\n"
            "*1\r\n$4\r\nPING\r\n"
        ).encode()
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as connection:
                connection.sendall(command)
                answer = b""
                while b"PONG" not in answer and len(answer) < 200:
                    chunk = connection.recv(200)
                    if not chunk:
                        break
                    answer += chunk
                return b"PONG" in answer
        except OSError:
            return False

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._kill()
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def __enter__(self) -> RedisServer:
        return self.start() if self.process is None else self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    """``python scripts/local_redis.py``: run a server until Ctrl-C, printing its URL."""
    with RedisServer() as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

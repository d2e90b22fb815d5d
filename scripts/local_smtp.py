"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

Used by tests/email and by ``bench/bench_email.py``: the same
server, so the benchmark measures what the tests check. Replies can be scripted
per SMTP command, so an error mapping is driven by a real server's real answer.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

__all__ = ["RecordingHandler", "SmtpServer", "make_certificate"]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.

    Returns ``(certificate, key)``. The certificate is its own CA, so a client
    given it as ``ca_file`` verifies the server for real (name and signature).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the email tests need the openssl command to make a certificate")
    certificate, key = folder / "server.pem", folder / "server.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(certificate), "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext", "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


class RecordingHandler:
    """Keeps every message the server accepted, and answers from a script when told to.

    ``script[command]`` is a list of replies (``"550 5.1.1 No such user"``) used
    one per command, in order; when it is empty the server behaves normally.
    ``delay[command]`` makes the server sleep before answering that command.
    """

    def __init__(self) -> None:
        self.raw_messages: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.raw_data_attempts: list[bytes] = []
        self.script: dict[str, list[str]] = {}
        self.delay: dict[str, float] = {}
        self.noops = 0
        self.lock = threading.Lock()

    def _scripted(self, command: str) -> str | None:
        with self.lock:
            replies = self.script.get(command)
            return replies.pop(0) if replies else None

    async def _pause(self, command: str) -> None:
        if self.delay.get(command):
            await asyncio.sleep(self.delay[command])

    async def handle_NOOP(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Any, envelope: Any, arg: str
    ) -> str:
        with self.lock:
            self.noops += 1
        return self._scripted("NOOP") or "250 OK"

    async def handle_MAIL(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        await self._pause("MAIL")
        reply = self._scripted("MAIL")
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self._scripted("RCPT")
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Any, envelope: Any
    ) -> str:
        await self._pause("DATA")
        # Kept raw and parsed when read: parsing is the reader's cost, not the
        # server's, so a benchmark measures the SMTP exchange.
        content: bytes = envelope.content
        with self.lock:
            self.raw_data_attempts.append(content)
        reply = self._scripted("DATA")
        if reply is not None:
            return reply
        with self.lock:
            self.raw_messages.append(content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on a free loopback port, counting the TCP connections it accepts.

    ``certificate``/``key`` turn on STARTTLS; ``users`` (login → password) turn
    on AUTH (PLAIN and LOGIN, only after STARTTLS, as real submission servers
    require). ``port`` reuses a port (a server "restarted" under a client);
    ``smtputf8=False`` makes a server that cannot take non-ASCII addresses.
    """

    def __init__(
        self,
        *,
        certificate: Path | None = None,
        key: Path | None = None,
        users: dict[str, str] | None = None,
        port: int | None = None,
        smtputf8: bool = True,
    ) -> None:
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = port if port is not None else _free_port()
        self.connections = 0
        self.disconnections = 0
        self.logins: list[str] = []
        self._running = False
        self._count_lock = threading.Lock()
        keywords: dict[str, Any] = {"enable_SMTPUTF8": smtputf8}
        if certificate is not None and key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(certificate), str(key))
            keywords["tls_context"] = context
        if users is not None:
            keywords["authenticator"] = self._authenticator(users)
            keywords["auth_require_tls"] = certificate is not None
        server = self

        class CountingController(Controller):
            def factory(self) -> SMTP:
                # One protocol object per accepted TCP connection.
                with server._count_lock:
                    server.connections += 1
                protocol: SMTP = super().factory()  # type: ignore[no-untyped-call]
                lost = protocol.connection_lost

                def count_lost(error: Exception | None) -> None:
                    with server._count_lock:
                        server.disconnections += 1
                    lost(error)

                protocol.connection_lost = count_lost  # type: ignore[method-assign]
                return protocol

        self._controller = CountingController(
            self.handler, hostname=self.host, port=self.port, **keywords
        )

    def _authenticator(self, users: dict[str, str]) -> Callable[..., AuthResult]:
        def authenticate(
            server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            if isinstance(data, LoginPassword):
                login, password = data.login.decode(), data.password.decode()
                if users.get(login) == password:
                    self.logins.append(login)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        return authenticate

    def start(self) -> SmtpServer:
        self._controller.start()
        self._running = True
        # start() opens one connection of its own to check the server is up;
        # it is not one of the connections a test counts.
        self.wait_for_disconnections(1)
        with self._count_lock:
            self.connections = self.disconnections = 0
        return self

    def wait_for_disconnections(self, count: int, within: float = 10.0) -> int:
        """The number of closed connections, once it reaches ``count`` (or ``within`` passed).

        The server hears a client's close a moment after the client returns.
        """
        deadline = time.monotonic() + within
        while self.disconnections < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.disconnections

    def stop(self) -> None:
        """Stop listening; safe to call again (a test may stop the server its fixture stops)."""
        if self._running:
            self._running = False
            self._controller.stop()

    # Parsed views live here, not on the handler: aiosmtpd inspects the
    # handler's members (properties included) at every new connection.
    @property
    def messages(self) -> list[EmailMessage]:
        """Every accepted message, parsed with the ``email`` package (default policy)."""
        with self.handler.lock:
            raw = list(self.handler.raw_messages)
        return [_parse(content) for content in raw]

    @property
    def data_attempts(self) -> list[EmailMessage]:
        """Every message sent with DATA, accepted or refused by a scripted reply."""
        with self.handler.lock:
            raw = list(self.handler.raw_data_attempts)
        return [_parse(content) for content in raw]


def _parse(content: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port

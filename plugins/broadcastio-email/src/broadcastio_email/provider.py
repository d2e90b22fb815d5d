"""``EmailProvider``: one SMTP transaction per attempt, over a connection kept per thread."""

from __future__ import annotations

import email.utils
import functools
import hashlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from broadcastio import (
    AttachmentError,
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
    ValidationError,
)
from broadcastio.providers.base import settings_from_arguments
from broadcastio_email.settings import (
    FROM_ENV,
    HOST_ENV,
    EmailSettings,
    is_plain_address,
)

if TYPE_CHECKING:
    # smtplib (with ssl) and the outcome mapping are imported when a provider is
    # created or fails, not when the plugin is loaded: listing plugins
    # (``broadcastio plugins``, ``--help``) then costs no SMTP or TLS stack.
    import smtplib
    from email.message import EmailMessage
    from email.policy import EmailPolicy

__all__ = ["HTML_EXTRA_KEY", "EmailProvider", "message_id"]

logger = logging.getLogger("broadcastio")

HTML_EXTRA_KEY = "html"
"""The ``metadata.extra`` key whose string becomes the message's HTML alternative."""

_SUBJECT_LIMIT = 78

IDLE_CHECK_AFTER = 2.0
"""Seconds a pooled connection may sit unused before it is checked with NOOP.

Servers drop idle connections after minutes, not seconds, so a connection used
a moment ago is sent the next message straight away: in a broadcast that
saves one round trip per message. Should the server have dropped it anyway,
the failure comes at ``MAIL FROM``, before anything was handed over, and the
message goes out on a new connection."""


def message_id(message: Message, domain: str, *, address: str | None = None) -> str:
    """The ``Message-ID`` of a message: the same for every retry and resume of it.

    Derived from ``metadata.reference_id`` (shared by every attempt of one
    ``Message``, and kept by the broadcast journal across a resume) and the
    recipient's email ``address``, so a campaign reusing one reference id
    still gives each person their own id. Without ``address``, the message's
    recipient when it is a string, else the contact's ``email`` address: the
    same id whether the provider was handed the contact or, through an
    orchestrator, its address. A stable id lets a receiving server or a mail
    client tell that a message sent again after an ambiguous timeout is one
    it already has; whether it then hides the copy is up to it.
    """
    if address is None:
        recipient = message.recipient
        address = (
            recipient
            if isinstance(recipient, str)
            else (recipient.address("email") or recipient.key)
        )
    digest = hashlib.sha256(f"{message.metadata.reference_id}\x00{address}".encode()).hexdigest()
    return f"<bio.{digest[:40]}@{domain}>"


class _Connection:
    """One open SMTP session and the thread that owns it."""

    __slots__ = ("last_used", "smtp", "thread")

    def __init__(self, smtp: smtplib.SMTP, thread: threading.Thread) -> None:
        self.smtp = smtp
        self.thread = thread
        self.last_used = time.monotonic()


class _Stage:
    """How far a connection set-up or a send got, read when it fails."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class EmailProvider(MessageProvider):
    """Delivers through an SMTP server (a mail service's submission port, or a relay).

    Each sending thread keeps one SMTP connection for the provider's lifetime:
    before reuse it is checked with ``NOOP`` and reopened when the server has
    dropped it, so a broadcast with ``concurrency`` threads opens about
    ``concurrency`` connections, not one per recipient. Connections of threads
    that have ended are closed when the next connection is opened, and
    ``close()`` (or leaving a ``with`` block) closes them all, after which every
    call fails without connecting. Every outcome is returned as a
    ``DeliveryResult``; nothing is retried here.

    The message's ``recipient`` is the email address (the engine hands each
    provider the address of its ``address_kind``); called directly with a
    contact, the provider sends to the contact's ``email`` address
    (``address_of``). ``title`` becomes the
    Subject; without one, the first line of the content (or the attachment's
    file name) does. ``metadata.extra["html"]`` adds an HTML alternative.

    The instance name defaults to ``email``; an assembly naming instances
    (``[providers.alerts-mail] type = "email"``) passes ``name=`` or sets
    ``provider.name`` afterwards, and both are honoured everywhere, results
    and health included.
    """

    name = "email"
    address_kind: ClassVar[str | None] = "email"
    # The Message-ID is an unkeyed digest of the reference id and the address: a
    # list of candidate addresses can be checked against it, so it is not exported
    # as it is (the OpenTelemetry plugin's spans).
    message_ids_contain_address: ClassVar[bool] = True
    settings_type = EmailSettings

    def __init__(
        self, settings: EmailSettings | None = None, /, *, name: str | None = None, **overrides: Any
    ) -> None:
        settings = settings_from_arguments(
            EmailSettings, settings, overrides, owner="EmailProvider"
        ).with_environment(os.environ)
        if settings.host is None:
            raise ConfigurationError(f"EmailProvider needs host (or {HOST_ENV})", field="host")
        if settings.from_address is None:
            raise ConfigurationError(
                f"EmailProvider needs from_address (or {FROM_ENV}, which only settings for "
                f"the server {HOST_ENV} names take)",
                field="from_address",
            )
        if (settings.username is None) != (settings.password is None):
            missing = "password" if settings.password is None else "username"
            raise ConfigurationError(
                f"EmailProvider has one of username and password but not {missing}; "
                "give both to log in, or neither (the BROADCASTIO_EMAIL_* variables fill "
                f"in only settings for the server {HOST_ENV} names; elsewhere write "
                f'{missing} = "${{VAR}}")',
                field=missing,
            )
        if name is not None:
            # ``name`` is a class attribute on MessageProvider; an instance's own
            # name (``[providers.alerts-mail]``) shadows it for this object only.
            self.__dict__["name"] = name
        self.settings = settings
        self.retry_policy = settings.retry_policy
        self.host: str = settings.host
        self.port = settings.effective_port
        self.server = f"{self.host}:{self.port}"
        self._from_header: str = settings.from_address
        self._envelope_from = email.utils.parseaddr(settings.from_address)[1]
        self._domain = self._envelope_from.rsplit("@", 1)[1]
        import ssl

        self._tls_context = (
            None
            if settings.security == "none"
            else ssl.create_default_context(cafile=settings.ca_file)
        )
        self._local = threading.local()
        self._connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # The connection the last health check opened and proved, kept for the
        # first sending thread that needs one: a check before a broadcast then
        # costs no connection of its own (``concurrency`` connections in all).
        self._spare: smtplib.SMTP | None = None
        self._spare_since = 0.0
        self.connections_opened = 0
        """How many SMTP connections this provider has opened for sending (not health)."""
        self.idle_check_after = IDLE_CHECK_AFTER
        """Seconds unused after which a pooled connection is checked with NOOP before reuse."""

    @classmethod
    def configured_by_environment(cls, environ: Mapping[str, str]) -> bool:
        """True when ``BROADCASTIO_EMAIL_HOST`` is set (non-empty).

        The host is the one setting without which nothing can be sent; the other
        variables alone (a password exported for another tool) are no sign that
        email is meant to be used.
        """
        return bool(environ.get(HOST_ENV))

    def send(self, message: Message) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.failed(
                self.name, ErrorCode.PROVIDER_UNAVAILABLE, _CLOSED, server=self.server
            )
        try:
            recipient = self.address_of(message)
        except ValidationError as error:
            return DeliveryResult.failed(self.name, ErrorCode.INVALID_RECIPIENT, error.message)
        if not is_plain_address(recipient):
            return DeliveryResult.failed(
                self.name,
                ErrorCode.INVALID_RECIPIENT,
                f"{recipient!r} is not an email address (expected name@example.com)",
                recipient=recipient,
            )
        try:
            mime = self._build(message, recipient)
        except AttachmentError as error:
            return DeliveryResult.failed(
                self.name, ErrorCode.ATTACHMENT_NOT_FOUND, error.message, **error.details
            )
        import smtplib

        from broadcastio_email.outcomes import result_from_exception

        stage = _Stage("connect")
        try:
            connection, unchecked = self._thread_connection(stage)
            try:
                self._transaction(connection.smtp, mime, recipient, stage)
            except smtplib.SMTPServerDisconnected:
                if not (unchecked and stage.name == "mail"):
                    raise
                # Dropped before MAIL FROM was taken: nothing was handed over,
                # so the message goes out once on a new connection.
                logger.debug(
                    "%s: SMTP connection to %s dropped; reconnecting", self.name, self.server
                )
                self._discard_thread_connection()
                stage.name = "connect"
                connection, _ = self._thread_connection(stage)
                self._transaction(connection.smtp, mime, recipient, stage)
            connection.last_used = time.monotonic()
        except (smtplib.SMTPException, OSError) as error:
            if not _connection_still_usable(error):
                self._discard_thread_connection()
            result = result_from_exception(
                error,
                provider=self.name,
                server=self.server,
                stage=stage.name,
                timeout=self.settings.timeout,
                recipient=recipient,
            )
            return self._without_secrets(result)
        return DeliveryResult.delivered(self.name, mime["Message-ID"], server=self.server)

    def _transaction(
        self, smtp: smtplib.SMTP, mime: EmailMessage, recipient: str, stage: _Stage
    ) -> None:
        """MAIL FROM, RCPT TO and DATA for one message, each a ``stage``, raising as smtplib does.

        Spelled out instead of ``smtp.send_message`` so that a failure says
        exactly which command failed: before DATA nothing was handed over
        (safe to send again), during DATA the server may have the message.
        """
        import smtplib
        from email.generator import BytesGenerator
        from io import BytesIO

        _, policy, utf8_policy = _policies()
        mail_options: list[str] = []
        if not (self._envelope_from.isascii() and recipient.isascii()):
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError(
                    "a non-ASCII address needs the server's SMTPUTF8 extension, "
                    "which it does not offer"
                )
            mail_options = ["SMTPUTF8", "BODY=8BITMIME"]
            policy = utf8_policy
        content = BytesIO()
        BytesGenerator(content, policy=policy).flatten(mime)
        stage.name = "mail"
        code, reply = smtp.mail(self._envelope_from, mail_options)
        if code != 250:
            _end_transaction(smtp, code)
            raise smtplib.SMTPSenderRefused(code, reply, self._envelope_from)
        stage.name = "rcpt"
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            _end_transaction(smtp, code)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        stage.name = "data"
        code, reply = smtp.data(content.getvalue())
        if code != 250:
            _end_transaction(smtp, code)
            raise smtplib.SMTPDataError(code, reply)

    def build_message(self, message: Message) -> EmailMessage:
        """The email as it will be sent: headers, text (and HTML) body, attachment.

        Public so a caller can see exactly what a message becomes without an
        SMTP server (a preview, a test). A contact is resolved to its ``email``
        address (``address_of``); one without is a ``ValidationError``.
        """
        return self._build(message, self.address_of(message))

    def _build(self, message: Message, address: str) -> EmailMessage:
        from email.message import EmailMessage

        mime = EmailMessage(policy=_policies()[0])
        mime["From"] = self._from_header
        mime["To"] = address
        mime["Subject"] = _subject(message)
        mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = message_id(message, self._domain, address=address)
        if self.settings.reply_to is not None:
            mime["Reply-To"] = self.settings.reply_to
        if self.settings.list_unsubscribe is not None:
            mime["List-Unsubscribe"] = _angle_bracketed(self.settings.list_unsubscribe)
        mime.set_content(message.content or "", charset="utf-8")
        html = message.metadata.extra.get(HTML_EXTRA_KEY)
        if isinstance(html, str) and html.strip():
            mime.add_alternative(html, subtype="html", charset="utf-8")
        attachment = message.attachment
        if attachment is not None:
            content = attachment.read_bytes()
            maintype, _, subtype = (attachment.mime_type or "application/octet-stream").partition(
                "/"
            )
            mime.add_attachment(
                content, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return mime

    def health(self) -> ProviderHealth:
        """Ready when the server answers, says EHLO, (upgrades to TLS) and accepts the login.

        A fresh connection bounded by ``health_timeout``: a wrong password or an
        unreachable server is "not ready" with the server's own reply, before
        any message is attempted. The proven connection is not closed but kept
        as a spare that the next thread to send adopts (checked with NOOP if it
        has idled), replacing the spare of an earlier check; so checking health
        before a broadcast does not open a connection more than the sends need.
        """
        if self._closed:
            return ProviderHealth(provider=self.name, ready=False, details={"reason": _CLOSED})
        import smtplib

        from broadcastio_email.outcomes import result_from_exception

        stage = _Stage("connect")
        try:
            smtp = self._open(stage, timeout=self.settings.health_timeout)
        except (smtplib.SMTPException, OSError) as error:
            result = self._without_secrets(
                result_from_exception(
                    error,
                    provider=self.name,
                    server=self.server,
                    stage=stage.name,
                    timeout=self.settings.health_timeout,
                    recipient="",
                )
            )
            assert result.error is not None
            return ProviderHealth(
                provider=self.name,
                ready=False,
                details={
                    "reason": result.error.message,
                    "code": str(result.error.code),
                    **result.error.details,
                },
            )
        with self._lock:
            replaced, self._spare = (smtp, None) if self._closed else (self._spare, smtp)
            self._spare_since = time.monotonic()
        if replaced is not None:
            _quit(replaced)
        return ProviderHealth(
            provider=self.name,
            ready=True,
            details={"server": self.server, "security": self.settings.security},
        )

    def close(self) -> None:
        """Close every pooled connection (QUIT); later calls fail without connecting.

        Idempotent: the provider's owner and an orchestrator may both close it.
        """
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            spare, self._spare = self._spare, None
        for connection in connections:
            _quit(connection.smtp)
        if spare is not None:
            _quit(spare)

    # -- connections ---------------------------------------------------------

    def _thread_connection(self, stage: _Stage) -> tuple[_Connection, bool]:
        """This thread's open connection, and whether it is reused without a NOOP check.

        A connection unused for ``idle_check_after`` seconds or more is checked
        with NOOP first, and replaced when the server has dropped it.
        """
        import smtplib

        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is not None:
            if time.monotonic() - connection.last_used < self.idle_check_after:
                return connection, True
            try:
                code, _ = connection.smtp.noop()
            except (smtplib.SMTPException, OSError):
                code = -1
            if code == 250:
                return connection, False
            logger.debug("%s: SMTP connection to %s dropped; reconnecting", self.name, self.server)
            self._discard_thread_connection()
        smtp = self._adopt_spare()
        opened = smtp is None
        if smtp is None:
            smtp = self._open(stage, timeout=self.settings.timeout)
        else:
            # A health check's connection has its health_timeout; sends use timeout.
            smtp.timeout = self.settings.timeout
            if smtp.sock is not None:
                smtp.sock.settimeout(self.settings.timeout)
        connection = _Connection(smtp, threading.current_thread())
        with self._lock:
            if self._closed:
                _quit(smtp)
                raise smtplib.SMTPServerDisconnected(_CLOSED)
            ended = [each for each in self._connections if not each.thread.is_alive()]
            self._connections = [each for each in self._connections if each.thread.is_alive()]
            self._connections.append(connection)
            if opened:
                self.connections_opened += 1
        for each in ended:
            _quit(each.smtp)
        self._local.connection = connection
        return connection, False

    def _adopt_spare(self) -> smtplib.SMTP | None:
        """The health check's spare connection, if there is one the server still keeps open."""
        import smtplib

        with self._lock:
            spare, self._spare = self._spare, None
            since = self._spare_since
        if spare is None:
            return None
        if time.monotonic() - since < self.idle_check_after:
            return spare
        try:
            code, _ = spare.noop()
        except (smtplib.SMTPException, OSError):
            code = -1
        if code == 250:
            return spare
        _quit(spare)
        return None

    def _discard_thread_connection(self) -> None:
        connection: _Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            return
        self._local.connection = None
        with self._lock:
            if connection in self._connections:
                self._connections.remove(connection)
        _quit(connection.smtp)

    def _open(self, stage: _Stage, *, timeout: float) -> smtplib.SMTP:
        """A connected, greeted, encrypted (as configured) and logged-in SMTP session."""
        import smtplib

        settings = self.settings
        stage.name = "connect"
        smtp: smtplib.SMTP
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=timeout, context=self._tls_context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        try:
            stage.name = "ehlo"
            smtp.ehlo()
            if settings.security == "starttls":
                stage.name = "starttls"
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "STARTTLS is not offered, and security = starttls never sends in clear"
                    )
                smtp.starttls(context=self._tls_context)
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                stage.name = "auth"
                smtp.login(settings.username, settings.password)
        except BaseException:
            _quit(smtp)
            raise
        return smtp

    def _without_secrets(self, result: DeliveryResult) -> DeliveryResult:
        """``result`` with the password removed from its words, should a server echo it."""
        password = self.settings.password
        error = result.error
        if not password or error is None:
            return result
        if password not in error.message and not any(
            password in str(value) for value in error.details.values()
        ):
            return result
        details = {
            key: str(value).replace(password, "***") if password in str(value) else value
            for key, value in error.details.items()
        }
        return DeliveryResult.failed(
            self.name, error.code, error.message.replace(password, "***"), **details
        )


_CLOSED = "this EmailProvider was closed; create a new one to send again"


def _connection_still_usable(error: BaseException) -> bool:
    """Whether the connection can carry the next message after ``error``.

    smtplib resets the transaction (RSET) itself after a refused sender,
    refused recipients or a refused DATA; the session stays good unless the
    server said 421 (it is closing the connection).
    """
    import smtplib

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code != 421 for code, _ in error.recipients.values())
    if isinstance(error, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return error.smtp_code != 421
    return False


@functools.lru_cache(maxsize=1)
def _policies() -> tuple[EmailPolicy, EmailPolicy, EmailPolicy]:
    """The policy messages are built with, and its CRLF and CRLF + UTF-8 forms for sending.

    The standard policy parses every header value it is given into a
    structured header (~40 us each, most of the cost of building a message).
    The values this provider writes are already well-formed, so a short,
    printable ASCII one is stored as it is and written out verbatim; anything
    else (a non-ASCII subject or display name, a long value to fold) goes
    through the standard parsing and encoding. Built on first use so that
    loading the plugin imports no email machinery.
    """
    from email.policy import EmailPolicy

    class VerbatimHeaders(EmailPolicy):
        def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
            if (
                isinstance(value, str)
                and value.isascii()
                and value.isprintable()
                and value == value.strip()
                and len(name) + len(value) + 2 <= 78
            ):
                return (name, value)
            return super().header_store_parse(name, value)

    building = VerbatimHeaders()
    return building, building.clone(linesep="\r\n"), building.clone(linesep="\r\n", utf8=True)


def _end_transaction(smtp: smtplib.SMTP, code: int) -> None:
    """After a refused command: RSET to start clean, or close after a 421 (server leaving)."""
    import smtplib

    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _quit(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close, ignoring a server that is already gone."""
    import smtplib

    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _subject(message: Message) -> str:
    """The title; else the content's first line (shortened); else the attachment's name."""
    title = getattr(message, "title", None)
    if isinstance(title, str) and title.strip():
        return " ".join(title.split())
    lines = (line.strip() for line in (message.content or "").splitlines())
    first_line = next((line for line in lines if line), "")
    if first_line:
        if len(first_line) > _SUBJECT_LIMIT:
            return first_line[: _SUBJECT_LIMIT - 1].rstrip() + "…"
        return first_line
    if message.attachment is not None and message.attachment.filename:
        return message.attachment.filename
    return ""


def _angle_bracketed(value: str) -> str:
    """``mailto:a@b, https://x`` as RFC 2369 wants it: ``<mailto:a@b>, <https://x>``."""
    parts = (part.strip() for part in value.split(","))
    return ", ".join(part if part.startswith("<") else f"<{part}>" for part in parts)

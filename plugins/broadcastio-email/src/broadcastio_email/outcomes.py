"""Mapping what the SMTP server answered (or failed to answer) onto broadcastio results.

Every outcome of an SMTP conversation becomes a ``DeliveryResult``; nothing here
raises. The server's reply code and text always go into ``details``
(``smtp_code``, ``smtp_message``) so a person reading a trace sees exactly what
the server said, and ``stage`` says how far the conversation got.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from typing import Any

from broadcastio import DeliveryResult, ErrorCode

__all__ = [
    "RATE_LIMIT_CODES",
    "RECIPIENT_CODES",
    "UNSENT_STAGES",
    "code_for_reply",
    "result_from_exception",
    "retry_after_from_text",
]

RATE_LIMIT_CODES = frozenset({421, 451})
"""Replies that may mean "not now, later": 421 (service closing, often "too many
connections/messages") and 451 (local error, the usual greylisting and
throttling answer). They are ``RATE_LIMITED`` only when the text names a delay
("try again in 30 seconds"): both codes also cover plain trouble ("451 Local
error", "421 shutting down"), which is ``PROVIDER_UNAVAILABLE`` like any 4xx."""

UNSENT_STAGES = frozenset({"connect", "ehlo", "starttls", "auth", "mail", "rcpt"})
"""Stages before DATA: a failure there means the server has nothing of the message."""

RECIPIENT_CODES = frozenset({550, 553})
"""Replies that mean the mailbox does not exist or its name is not allowed."""

# "try again in 30 seconds", "retry after 2 minutes", "wait 10s": the numbers
# servers put in their throttling replies. Anything else leaves the delay to
# the retry policy's backoff.
_RETRY_HINT = re.compile(
    r"(?:try again|retry|wait)\D{0,20}?(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|mins?|minutes?)\b",
    re.IGNORECASE,
)


def retry_after_from_text(text: str) -> float | None:
    """Seconds to wait, if the server's reply text names a delay; ``None`` otherwise."""
    match = _RETRY_HINT.search(text)
    if match is None:
        return None
    amount = float(match.group(1))
    return amount * 60 if match.group(2).lower().startswith("m") else amount


def code_for_reply(smtp_code: int, *, stage: str, text: str = "") -> ErrorCode:
    """The ``ErrorCode`` for an SMTP reply at a stage of the conversation.

    ``stage`` is one of ``connect``, ``auth``, ``mail``, ``rcpt`` or ``data``;
    ``text`` is the reply's text. A 421 or 451 is ``RATE_LIMITED`` when the text
    names a delay (``retry_after_from_text``), the server's own "slow down";
    without one it is ``PROVIDER_UNAVAILABLE``, as every other 4xx. A 5xx to
    ``MAIL FROM`` refuses our sender, which is this provider's configuration
    (``from_address``), not the recipient.
    """
    if smtp_code in RATE_LIMIT_CODES and retry_after_from_text(text) is not None:
        return ErrorCode.RATE_LIMITED
    if smtp_code in (530, 534, 535) or (stage == "auth" and smtp_code >= 500):
        return ErrorCode.AUTHENTICATION_FAILED
    if 400 <= smtp_code < 500:
        return ErrorCode.PROVIDER_UNAVAILABLE
    if stage == "mail" and smtp_code >= 500:
        return ErrorCode.PROVIDER_MISCONFIGURED
    if smtp_code in RECIPIENT_CODES or (stage == "rcpt" and smtp_code >= 500):
        return ErrorCode.INVALID_RECIPIENT
    return ErrorCode.PROVIDER_REJECTED


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def result_from_exception(
    error: BaseException,
    *,
    provider: str,
    server: str,
    stage: str,
    timeout: float,
    recipient: str,
) -> DeliveryResult:
    """A send that did not end with the server accepting the message.

    ``server`` is ``host:port`` for the words; ``stage`` is how far the
    conversation got, which decides whether a timeout is ambiguous: before
    DATA nothing was handed over (``PROVIDER_UNAVAILABLE``), during DATA the
    server may have the message (``TIMEOUT``).
    """
    details: dict[str, Any] = {
        "server": server,
        "stage": stage,
        "exception_type": type(error).__name__,
    }

    def reply(smtp_code: int, raw: bytes | str, at: str) -> DeliveryResult:
        return _reply_result(provider, smtp_code, raw, at, details, server, recipient)

    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # One recipient per message: the refusal is that recipient's.
        smtp_code, raw = next(iter(error.recipients.values()), (550, b""))
        return reply(smtp_code, raw, "rcpt")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return reply(error.smtp_code, error.smtp_error, "mail")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return reply(error.smtp_code, error.smtp_error, "auth")
    if isinstance(error, smtplib.SMTPDataError):
        return reply(error.smtp_code, error.smtp_error, "data")
    if isinstance(error, smtplib.SMTPResponseException):
        return reply(error.smtp_code, error.smtp_error, stage)
    if isinstance(error, smtplib.SMTPNotSupportedError) and "SMTPUTF8" in str(error):
        # smtplib's own check, before MAIL FROM: a non-ASCII address needs the
        # server's SMTPUTF8 extension. The address cannot go through this server.
        return DeliveryResult.failed(
            provider,
            ErrorCode.INVALID_RECIPIENT,
            f"the SMTP server {server} cannot take the non-ASCII address {recipient!r} "
            "(it does not offer SMTPUTF8)",
            **details,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # The server lacks something the settings require: STARTTLS or AUTH.
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_MISCONFIGURED,
            f"the SMTP server {server} does not support what the settings ask for: {error}",
            **details,
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_MISCONFIGURED,
            f"the SMTP server {server} presented a certificate that cannot be verified "
            f"({error.verify_message}); set ca_file for a private CA",
            **details,
        )
    # smtplib turns a timed-out read into SMTPServerDisconnected("Connection
    # unexpectedly closed: timed out"); the timeout is its context.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        if stage in UNSENT_STAGES:
            words = (
                f"the SMTP server {server} is unreachable: no answer within {timeout:g} s"
                if stage == "connect"
                else f"the SMTP server {server} did not answer {stage.upper()} within "
                f"{timeout:g} s; nothing was sent"
            )
            return DeliveryResult.failed(
                provider,
                ErrorCode.PROVIDER_UNAVAILABLE,
                words,
                timeout_seconds=timeout,
                **details,
            )
        return DeliveryResult.failed(
            provider,
            ErrorCode.TIMEOUT,
            f"the SMTP server {server} did not answer in {timeout:g} s; "
            "the message may have been sent",
            timeout_seconds=timeout,
            **details,
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the SMTP server {server} closed the connection "
            f"({_short(error) or 'no reason given'})",
            **details,
        )
    if isinstance(error, OSError):
        reason = error.strerror or _short(error)
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the SMTP server {server} is unreachable: {reason}",
            **details,
        )
    return DeliveryResult.failed(
        provider,
        ErrorCode.PROVIDER_REJECTED,
        f"sending through the SMTP server {server} failed: {_short(error)}",
        **details,
    )


def _reply_result(
    provider: str,
    smtp_code: int,
    raw: bytes | str,
    stage: str,
    details: dict[str, Any],
    server: str,
    recipient: str,
) -> DeliveryResult:
    text = _reply_text(raw)
    details = {**details, "stage": stage, "smtp_code": smtp_code, "smtp_message": text}
    code = code_for_reply(smtp_code, stage=stage, text=text)
    if code is ErrorCode.RATE_LIMITED:
        details["retry_after"] = retry_after_from_text(text)
    if code is ErrorCode.INVALID_RECIPIENT:
        words = f"the SMTP server {server} refused the recipient {recipient!r}: {smtp_code} {text}"
    elif code is ErrorCode.AUTHENTICATION_FAILED:
        words = (
            f"the SMTP server {server} refused the login: {smtp_code} {text} "
            "(check username and password / BROADCASTIO_EMAIL_PASSWORD)"
        )
    elif code is ErrorCode.PROVIDER_MISCONFIGURED:
        words = f"the SMTP server {server} refused the sender (from_address): {smtp_code} {text}"
    else:
        words = f"the SMTP server {server} answered {smtp_code} {text}"
    return DeliveryResult.failed(provider, code, words, **details)


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 300 else text[:297] + "..."

"""Mapping what the receiving server answered (or failed to answer) onto broadcastio results.

Every outcome of a POST becomes a ``DeliveryResult``; nothing here raises.
The HTTP status goes into ``details`` (``status``), with the response's first
bytes for a refusal (``response``), and the URL only ever as scheme and host
(``url``): a webhook URL is a secret. Text taken from the server or from an
exception is scrubbed of the URL's path and query before it is kept, since
some servers echo the request line ("Cannot POST /services/T0/B0/XXXX").
"""

from __future__ import annotations

import datetime as _dt
import email.utils
from typing import Any

from broadcastio import DeliveryResult, ErrorCode

__all__ = [
    "RESPONSE_EXCERPT",
    "result_from_exception",
    "result_from_status",
    "retry_after_seconds",
    "scrub",
]

RESPONSE_EXCERPT = 500
"""How many bytes of a refusing response are kept in ``details["response"]``."""


def retry_after_seconds(value: str | None, now: _dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delay-seconds or an HTTP-date.

    ``None`` when absent, unreadable, or already past (then the retry policy's
    own back-off decides). Fractions are accepted although RFC 9110 says
    whole seconds, since some services send them.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" dates: UTC by RFC 5322
            when = when.replace(tzinfo=_dt.timezone.utc)
        now = now or _dt.datetime.now(_dt.timezone.utc)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds <= 0:  # NaN or past
        return None
    return seconds


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every non-trivial secret (a URL's path, its query) replaced by ``***``."""
    for secret in secrets:
        if len(secret) > 1:
            text = text.replace(secret, "***")
    return text


def result_from_status(
    provider: str,
    status: int,
    headers: Any,
    content: bytes,
    *,
    shown_url: str,
    secrets: tuple[str, ...],
    per_contact: bool,
) -> DeliveryResult:
    """A response that was not a success: its status decides the code.

    429 → ``RATE_LIMITED`` (with ``retry_after``), 5xx → ``PROVIDER_UNAVAILABLE``,
    401/403 → ``AUTHENTICATION_FAILED``, any other → ``PROVIDER_REJECTED`` with
    the response's first bytes.
    """
    excerpt = scrub(content[:RESPONSE_EXCERPT].decode("utf-8", "replace"), secrets)
    details: dict[str, Any] = {"status": status, "url": shown_url, "response": excerpt}
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    if retry_after is not None:
        details["retry_after"] = retry_after
    if status == 429:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        return DeliveryResult.failed(
            provider,
            ErrorCode.RATE_LIMITED,
            f"the webhook at {shown_url} asked to slow down (HTTP 429){wait}",
            **details,
        )
    if status >= 500:
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the webhook at {shown_url} failed with HTTP {status}",
            **details,
        )
    if status in (401, 403):
        where = "the contact's URL" if per_contact else "headers (or url)"
        return DeliveryResult.failed(
            provider,
            ErrorCode.AUTHENTICATION_FAILED,
            f"the webhook at {shown_url} refused the credentials (HTTP {status}); check {where}",
            **details,
        )
    return DeliveryResult.failed(
        provider,
        ErrorCode.PROVIDER_REJECTED,
        f"the webhook at {shown_url} refused the message with HTTP {status}"
        + (f": {excerpt[:200]}" if excerpt.strip() else ""),
        **details,
    )


def _reason(error: BaseException) -> str:
    """The root cause in a few words ("Connection refused"), never a URL.

    requests wraps urllib3's errors, whose text names the URL's path
    ("Max retries exceeded with url: /services/…"); the socket-level cause
    underneath says what went wrong without it.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    deepest = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        deepest = current
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        inner = current.args[0] if current.args else None
        if isinstance(inner, BaseException):
            current = inner
            continue
        current = current.__cause__ or current.__context__
    text = str(deepest)
    # urllib3's connection errors read "<HTTPConnection object at 0x…>: Failed to …".
    _, colon, tail = text.rpartition(">: ")
    return (tail if colon else text) or type(deepest).__name__


def result_from_exception(
    provider: str,
    error: BaseException,
    *,
    shown_url: str,
    secrets: tuple[str, ...],
    timeout: float,
) -> DeliveryResult:
    """A POST that ended without a response: refused, unreachable, timed out, TLS.

    A connect timeout or a refused connection means nothing was sent
    (``PROVIDER_UNAVAILABLE``); a timeout waiting for the answer means the
    server may have the message (``TIMEOUT``).
    """
    import requests

    reason = scrub(_reason(error), secrets)
    details: dict[str, Any] = {"url": shown_url, "exception_type": type(error).__name__}
    if isinstance(error, requests.ConnectTimeout):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the webhook at {shown_url} is unreachable: no connection within {timeout:g} s",
            timeout_seconds=timeout,
            **details,
        )
    if isinstance(error, requests.Timeout):
        return DeliveryResult.failed(
            provider,
            ErrorCode.TIMEOUT,
            f"the webhook at {shown_url} did not answer within {timeout:g} s; "
            "the message may have been delivered",
            timeout_seconds=timeout,
            **details,
        )
    if isinstance(error, requests.exceptions.SSLError):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_MISCONFIGURED,
            f"TLS with the webhook at {shown_url} failed ({reason}); set ca_file for a private CA",
            **details,
        )
    if isinstance(error, (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL)):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_MISCONFIGURED,
            f"the request to {shown_url} could not be made: {reason}",
            **details,
        )
    return DeliveryResult.failed(
        provider,
        ErrorCode.PROVIDER_UNAVAILABLE,
        f"the webhook at {shown_url} is unreachable: {reason}",
        **details,
    )

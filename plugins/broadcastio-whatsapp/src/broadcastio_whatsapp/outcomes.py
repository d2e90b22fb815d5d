"""Mapping what the bridge answered (or failed to answer) onto broadcastio results.

Every outcome of an HTTP call becomes a ``DeliveryResult``; nothing here raises.
The bridge's own error code and the HTTP status always go into ``details`` so a
person reading a trace can see exactly what the bridge said.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from broadcastio import DeliveryResult, ErrorCode
from broadcastio_whatsapp.settings import API_KEY_ENV

if TYPE_CHECKING:
    # Only for annotations: importing requests costs more than the rest of the
    # plugin, and listing plugins (``broadcastio plugins``) must not pay for it.
    import requests

__all__ = [
    "BRIDGE_ERROR_CODES",
    "RECIPIENT_FORMAT",
    "authentication_problem",
    "result_from_exception",
    "result_from_response",
    "root_cause",
]

PROVIDER = "whatsapp"

BRIDGE_ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType(
    {
        # The request was malformed: the message as built cannot be sent.
        # (VALIDATION_FAILED naming the field ``to`` becomes INVALID_RECIPIENT.)
        "VALIDATION_FAILED": ErrorCode.INVALID_MESSAGE,
        "INVALID_JSON": ErrorCode.INVALID_MESSAGE,
        "BAD_REQUEST": ErrorCode.INVALID_MESSAGE,
        "PAYLOAD_TOO_LARGE": ErrorCode.INVALID_MESSAGE,
        "MEDIA_TOO_LARGE": ErrorCode.INVALID_MESSAGE,
        # Same key, different content: sending it anyway could duplicate.
        "IDEMPOTENCY_KEY_MISMATCH": ErrorCode.INVALID_MESSAGE,
        "UNAUTHORIZED": ErrorCode.AUTHENTICATION_FAILED,
        "NOT_ON_WHATSAPP": ErrorCode.INVALID_RECIPIENT,
        "QUEUE_FULL": ErrorCode.RATE_LIMITED,
        "RATE_LIMITED": ErrorCode.RATE_LIMITED,
        "NOT_READY": ErrorCode.PROVIDER_UNAVAILABLE,
        "INCOMING_BUSY": ErrorCode.PROVIDER_UNAVAILABLE,
        # The message may be out: as ambiguous as a timeout, and a retry with
        # the same idempotency key resolves it without sending twice. 409 is
        # "the same key is still being sent after the bridge waited for it";
        # SEND_UNCONFIRMED is WhatsApp Web taking the message without an id.
        "SEND_TIMEOUT": ErrorCode.TIMEOUT,
        "SEND_UNCONFIRMED": ErrorCode.TIMEOUT,
        "IDEMPOTENCY_IN_FLIGHT": ErrorCode.TIMEOUT,
        # The key's send was in progress when the bridge process died; the
        # bridge's durable store kept the key, so it will never send it again
        # and cannot say whether WhatsApp took it (details: outcome unknown).
        "SEND_OUTCOME_UNKNOWN": ErrorCode.TIMEOUT,
        # WhatsApp Web failed the send; nothing went out.
        "SEND_FAILED": ErrorCode.PROVIDER_REJECTED,
        # Answers a send should never get from a working bridge at base_url:
        # the wrong route or method, a request this provider did not build
        # that way, a bridge bug. Another attempt would get the same answer,
        # so they are refusals, not unavailability.
        "NOT_FOUND": ErrorCode.PROVIDER_REJECTED,
        "METHOD_NOT_ALLOWED": ErrorCode.PROVIDER_REJECTED,
        "NOT_ACCEPTABLE": ErrorCode.PROVIDER_REJECTED,
        "LENGTH_REQUIRED": ErrorCode.PROVIDER_REJECTED,
        "URI_TOO_LONG": ErrorCode.PROVIDER_REJECTED,
        "UNSUPPORTED_MEDIA_TYPE": ErrorCode.PROVIDER_REJECTED,
        "HEADERS_TOO_LARGE": ErrorCode.PROVIDER_REJECTED,
        "MESSAGE_NOT_FOUND": ErrorCode.PROVIDER_REJECTED,
        "NO_QR_PENDING": ErrorCode.PROVIDER_REJECTED,
        "INTERNAL": ErrorCode.PROVIDER_REJECTED,
        # The bridge gave up receiving the request; kept as it always was.
        "REQUEST_TIMEOUT": ErrorCode.PROVIDER_REJECTED,
        # Only in the bridge's log (its client is gone); listed so the table
        # covers the whole catalogue.
        "CLIENT_CLOSED_REQUEST": ErrorCode.PROVIDER_REJECTED,
    }
)
"""What each of the bridge's error codes means here: one entry per code of the
bridge's catalogue (``node-bridge/src/error-codes.js``, the ``enum`` of
``error.code`` in its ``/openapi.json``), so no code of a current bridge falls
to a default by accident; tests/whatsapp/test_bridge_contract.py checks the two
lists are equal."""

# For answers without a code from the catalogue (a proxy, an older or newer
# bridge): the status alone, the meaning the table above gives each status.
_STATUS_CODES = {
    400: ErrorCode.INVALID_MESSAGE,
    401: ErrorCode.AUTHENTICATION_FAILED,
    403: ErrorCode.AUTHENTICATION_FAILED,
    409: ErrorCode.TIMEOUT,
    413: ErrorCode.INVALID_MESSAGE,
    422: ErrorCode.INVALID_RECIPIENT,
    429: ErrorCode.RATE_LIMITED,
    503: ErrorCode.PROVIDER_UNAVAILABLE,
    504: ErrorCode.TIMEOUT,
}


# What the bridge's `to` pattern (node-bridge/src/recipient.js) accepts, in words.
RECIPIENT_FORMAT = (
    "a phone number in international format, 6 to 20 digits with an optional leading + "
    "and no spaces or dashes (e.g. +15551234567), a chat id (15551234567@c.us) "
    "or a group id (...@g.us)"
)


def authentication_problem(api_key_set: bool) -> str:
    """Why the bridge answered 401/403, with the setting that fixes it.

    The same words for a send and for health, so a user who sees either knows
    what to change without reading the bridge's logs.
    """
    if api_key_set:
        return f"the bridge refused the API key (set api_key / {API_KEY_ENV})"
    return f"no API key is configured and the bridge requires one (set api_key / {API_KEY_ENV})"


def result_from_exception(
    error: requests.RequestException, url: str, timeout: tuple[float, float]
) -> DeliveryResult:
    """A request that got no HTTP answer at all; ``timeout`` is the (connect, read) it had."""
    import requests  # already imported by whoever made the request; see the module top

    details: dict[str, Any] = {
        "exception_type": type(error).__name__,
        "exception": _short(error),
        "url": url,
    }
    if isinstance(error, requests.ConnectTimeout):
        # Checked before ReadTimeout's parent: nothing was sent, safe to retry.
        return DeliveryResult.failed(
            PROVIDER,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the WhatsApp bridge at {url} is unreachable: no connection within {timeout[0]:g} s",
            timeout_seconds=timeout[0],
            **details,
        )
    if isinstance(error, requests.ReadTimeout):
        # The request reached the bridge; whether WhatsApp got the message is unknown.
        return DeliveryResult.failed(
            PROVIDER,
            ErrorCode.TIMEOUT,
            f"the WhatsApp bridge at {url} did not answer in {timeout[1]:g} s; "
            "the message may have been sent",
            timeout_seconds=timeout[1],
            **details,
        )
    if isinstance(error, requests.ConnectionError):
        return DeliveryResult.failed(
            PROVIDER,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the WhatsApp bridge at {url} is unreachable: {root_cause(error)}",
            **details,
        )
    return DeliveryResult.failed(
        PROVIDER,
        ErrorCode.PROVIDER_REJECTED,
        f"request to the WhatsApp bridge failed: {_short(error)}",
        **details,
    )


def result_from_response(
    response: requests.Response, *, api_key_set: bool, recipient: str
) -> DeliveryResult:
    """A request the bridge answered, successfully or not.

    ``api_key_set`` and ``recipient`` only shape the words of two failures: a
    refused key names the setting to fix, a refused recipient shows what was
    sent and what the bridge accepts. The bridge's own words stay in
    ``details["bridge_message"]``.
    """
    status = response.status_code
    body = _json_or_none(response)
    if status == 201:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
            return DeliveryResult.failed(
                PROVIDER,
                ErrorCode.PROVIDER_REJECTED,
                "the WhatsApp bridge answered 201 with a malformed body",
                http_status=status,
                body=_excerpt(response),
            )
        return DeliveryResult.delivered(
            PROVIDER,
            body["id"],
            to=body.get("to"),
            ack=body.get("ack"),
            replayed=response.headers.get("Idempotency-Replay") == "true",
        )

    error = body.get("error") if isinstance(body, dict) else None
    bridge_code = error.get("code") if isinstance(error, dict) else None
    bridge_message = error.get("message") if isinstance(error, dict) else None
    details: dict[str, Any] = {"http_status": status, "bridge_code": bridge_code}
    if isinstance(error, dict):
        for key in ("field", "state"):
            if error.get(key) is not None:
                details[key] = error[key]
    if error is None:
        details["body"] = _excerpt(response)
    if response.headers.get("Idempotency-Replay") == "true":
        # The bridge answered from its idempotency record: this is the stored
        # outcome of an earlier attempt with the same key, not a new send.
        details["replayed"] = True

    code = BRIDGE_ERROR_CODES.get(bridge_code) if isinstance(bridge_code, str) else None
    if code is None:
        code = _STATUS_CODES.get(status, ErrorCode.PROVIDER_REJECTED)
    if status == 400 and details.get("field") == "to":
        code = ErrorCode.INVALID_RECIPIENT
    if bridge_code == "SEND_OUTCOME_UNKNOWN":
        # Not a slow send that may still finish: this one never will, and a
        # retry with the same key gets this same answer. Said in the details,
        # so a reader of the journal knows to check the chat.
        details["outcome"] = "unknown"
    if code is ErrorCode.RATE_LIMITED:
        retry_after = _retry_after(response, error)
        if retry_after is not None:
            details["retry_after"] = retry_after
        details.update(_pause_of(error))
    text = str(bridge_message or f"the WhatsApp bridge answered HTTP {status}")
    if code is ErrorCode.AUTHENTICATION_FAILED:
        details["bridge_message"] = text
        text = authentication_problem(api_key_set)
    elif code is ErrorCode.INVALID_RECIPIENT and bridge_code != "NOT_ON_WHATSAPP":
        # NOT_ON_WHATSAPP is a well-formed number without an account; the
        # format hint is for a recipient the bridge could not even parse.
        details["bridge_message"] = text
        text = (
            f"the WhatsApp bridge rejected the recipient {recipient!r}: expected {RECIPIENT_FORMAT}"
        )
    return DeliveryResult.failed(PROVIDER, code, text, **details)


def _pause_of(error: Any) -> dict[str, str]:
    """The bridge pacer's ``pausedUntil`` and ``pauseReason`` as ``paused_until``/``pause_reason``.

    Present when the bridge held the send (a cap reached, or a risk pause after
    WhatsApp's rate error or a logout by WhatsApp): they say when sending can
    resume and why, which a broadcast shows as "paused until HH:MM".
    """
    if not isinstance(error, dict):
        return {}
    pause: dict[str, str] = {}
    if isinstance(error.get("pausedUntil"), str):
        pause["paused_until"] = error["pausedUntil"]
    if isinstance(error.get("pauseReason"), str):
        pause["pause_reason"] = error["pauseReason"]
    return pause


def _retry_after(response: requests.Response, error: Any) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date), else the body's hint."""
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            seconds = float(header)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.timezone.utc)
                return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())
        else:
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    if isinstance(error, dict):
        hint = error.get("retryAfter")
        if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint >= 0:
            return float(hint)
    return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    return response.text[:limit]


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 300 else text[:297] + "..."


def root_cause(error: BaseException) -> str:
    """The innermost OS-level reason (e.g. "Connection refused") behind urllib3's wrapping."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        if current.args and isinstance(current.args[0], BaseException):
            current = current.args[0]
            continue
        current = current.__cause__ or current.__context__
    return _short(error)

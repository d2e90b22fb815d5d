"""Mapping what the Bot API answered (or failed to answer) onto broadcastio results.

The Bot API answers every call with JSON: ``{"ok": true, "result": ...}``, or
``{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked
by the user", "parameters": {"retry_after": 5}}``. ``error_code`` mirrors the
HTTP status; ``description`` is the only place the reason is spelled out, so
it goes into ``details`` unchanged (``telegram_description``) and, for a
``400``, decides between a bad recipient and a bad message.

Nothing here raises, and every text is scrubbed of the token (it is part of
the URL requests puts in its exceptions).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from broadcastio import DeliveryResult, ErrorCode
from broadcastio_telegram.redaction import scrub
from broadcastio_telegram.settings import TOKEN_ENV

if TYPE_CHECKING:
    import requests

__all__ = [
    "RECIPIENT_PROBLEMS",
    "code_for_answer",
    "failure_from_response",
    "health_problem",
    "message_id_from",
    "result_from_exception",
]

RECIPIENT_PROBLEMS = re.compile(
    r"chat not found|user not found|peer_id_invalid|chat_id is empty|"
    r"group chat was upgraded|bot is not a member|have no rights to send|"
    r"not enough rights to send|chat_write_forbidden|user is deactivated",
    re.IGNORECASE,
)
"""``400`` descriptions that are about the chat, not the message: the chat id is
wrong, the group moved (``migrate_to_chat_id`` says where), or the bot may not
write there."""


def code_for_answer(status: int, description: str) -> ErrorCode:
    """The ``ErrorCode`` for a Bot API error answer (``error_code`` and ``description``)."""
    if status == 429:
        return ErrorCode.RATE_LIMITED
    if status == 401:
        return ErrorCode.AUTHENTICATION_FAILED
    if status == 403:
        # Blocked by the user, kicked from the group, not a channel member:
        # this bot cannot reach this chat, whatever is sent.
        return ErrorCode.INVALID_RECIPIENT
    if status == 404:
        # The Bot API answers 404 to a malformed token, and any server to a
        # wrong path: the provider's settings, not the message.
        return ErrorCode.PROVIDER_MISCONFIGURED
    if status == 400:
        if RECIPIENT_PROBLEMS.search(description):
            return ErrorCode.INVALID_RECIPIENT
        return ErrorCode.INVALID_MESSAGE
    if status == 413:
        return ErrorCode.INVALID_MESSAGE
    if status >= 500:
        return ErrorCode.PROVIDER_UNAVAILABLE
    return ErrorCode.PROVIDER_REJECTED


def message_id_from(response: requests.Response) -> int | None:
    """The sent message's id from a successful answer; ``None`` if it is not one."""
    if response.status_code != 200:
        return None
    body = _json_or_none(response)
    if not isinstance(body, dict) or body.get("ok") is not True:
        return None
    result = body.get("result")
    message_id = result.get("message_id") if isinstance(result, dict) else None
    if isinstance(message_id, int) and not isinstance(message_id, bool):
        return message_id
    return None


def failure_from_response(
    response: requests.Response,
    *,
    provider: str,
    method: str,
    chat: str,
    token: str | None,
) -> DeliveryResult:
    """A call the Bot API answered with anything but a sent message."""
    status = response.status_code
    body = _json_or_none(response)
    details: dict[str, Any] = {"method": method, "http_status": status}
    if not isinstance(body, dict) or "ok" not in body:
        details["body"] = scrub(response.text[:200], token)
        code = code_for_answer(status, "")
        if status == 200:
            code = ErrorCode.PROVIDER_REJECTED
        return DeliveryResult.failed(
            provider,
            code,
            f"the Bot API answered {method} with HTTP {status} and no Bot API answer "
            "(is api_base a Bot API server?)",
            **details,
        )
    description = scrub(str(body.get("description") or ""), token)
    error_code = body.get("error_code")
    if isinstance(error_code, int) and not isinstance(error_code, bool):
        details["telegram_error_code"] = error_code
    else:
        error_code = status
    details["telegram_description"] = description
    parameters = body.get("parameters")
    if isinstance(parameters, dict):
        migrate_to = parameters.get("migrate_to_chat_id")
        if isinstance(migrate_to, int) and not isinstance(migrate_to, bool):
            details["migrate_to_chat_id"] = migrate_to
    if body.get("ok") is True:
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_REJECTED,
            f"the Bot API answered {method} with ok but without a message id",
            **details,
        )
    code = code_for_answer(error_code, description)
    if code in (ErrorCode.RATE_LIMITED, ErrorCode.PROVIDER_UNAVAILABLE):
        retry_after = _retry_after(parameters, response)
        if retry_after is not None:
            details["retry_after"] = retry_after
    shown = description or f"HTTP {status}"
    if code is ErrorCode.AUTHENTICATION_FAILED:
        words = (
            f"the Bot API refused the bot token ({shown}); set token / {TOKEN_ENV} "
            "to the token BotFather gave (/token in BotFather shows it again)"
        )
    elif code is ErrorCode.PROVIDER_MISCONFIGURED:
        words = (
            f"the Bot API answered {method} with {shown}: the token is malformed "
            "or api_base does not point at a Bot API server"
        )
    elif code is ErrorCode.INVALID_RECIPIENT:
        words = f"Telegram cannot deliver to chat {chat!r}: {shown}"
        if "migrate_to_chat_id" in details:
            words += f" (the group is now chat {details['migrate_to_chat_id']}; use that id)"
    elif code is ErrorCode.RATE_LIMITED:
        wait = details.get("retry_after")
        words = "Telegram's flood control refused the message" + (
            f"; retry after {wait:g} s" if wait is not None else ""
        )
    else:
        words = f"the Bot API refused {method}: {shown}"
    return DeliveryResult.failed(provider, code, words, **details)


def result_from_exception(
    error: BaseException,
    *,
    provider: str,
    url: str,
    method: str,
    timeout: tuple[float, float],
    token: str | None,
) -> DeliveryResult:
    """A call that got no HTTP answer; ``url`` is shown with the token already redacted."""
    import requests

    details: dict[str, Any] = {
        "method": method,
        "url": url,
        "exception_type": type(error).__name__,
        "exception": _short(scrub(str(error), token)),
    }
    if isinstance(error, requests.ConnectTimeout):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the Bot API at {url} is unreachable: no connection within {timeout[0]:g} s",
            timeout_seconds=timeout[0],
            **details,
        )
    if isinstance(error, requests.ReadTimeout):
        # The request went out: Telegram may have sent the message.
        return DeliveryResult.failed(
            provider,
            ErrorCode.TIMEOUT,
            f"the Bot API at {url} did not answer in {timeout[1]:g} s; "
            "the message may have been sent",
            timeout_seconds=timeout[1],
            **details,
        )
    if isinstance(error, requests.ConnectionError):
        return DeliveryResult.failed(
            provider,
            ErrorCode.PROVIDER_UNAVAILABLE,
            f"the Bot API at {url} is unreachable: {scrub(_root_cause(error), token)}",
            **details,
        )
    return DeliveryResult.failed(
        provider,
        ErrorCode.PROVIDER_REJECTED,
        f"the request to the Bot API at {url} failed: {details['exception']}",
        **details,
    )


def health_problem(result: DeliveryResult) -> dict[str, Any]:
    """A failed ``getMe`` as ``ProviderHealth`` details: the reason first, then the rest."""
    assert result.error is not None
    return {
        "reason": result.error.message,
        "code": str(result.error.code),
        **result.error.details,
    }


def _retry_after(parameters: Any, response: requests.Response) -> float | None:
    """``parameters.retry_after`` (the Bot API's way), else a ``Retry-After`` header."""
    hint: Any = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if hint is None:
        header = response.headers.get("Retry-After")
        if header is not None:
            try:
                hint = float(header.strip())
            except ValueError:
                hint = None
    if isinstance(hint, (int, float)) and not isinstance(hint, bool):
        seconds = float(hint)
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _short(text: str) -> str:
    return text if len(text) <= 300 else text[:297] + "..."


def _root_cause(error: BaseException) -> str:
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
    return _short(str(error))

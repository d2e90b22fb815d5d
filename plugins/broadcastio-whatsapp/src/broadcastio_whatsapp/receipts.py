"""Delivery receipts from the bridge: ``POST /v1/receipts/query``, in batches.

WhatsApp reports each message's ticks (server, device, read, played) to the
bridge after the send has returned; the bridge keeps them. This module asks
for many messages at once and turns the answers into ``Receipt`` records. It
raises instead of returning results (unlike sending): a sync that cannot ask
must say so, and must never record a guess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from broadcastio import BroadcastioError, ErrorCode, Receipt, ReceiptState

if TYPE_CHECKING:
    import requests

__all__ = ["RECEIPTS_BATCH", "RECEIPTS_PATH", "fetch_receipts", "receipt_from_answer"]

RECEIPTS_PATH = "/v1/receipts/query"

RECEIPTS_BATCH = 500
"""Ids per request: the bridge's bound (``RECEIPTS_MAX_IDS``); it refuses more with a 400."""

# The bridge's ack names; PENDING is "accepted, no tick yet".
_STATES = {
    "PENDING": ReceiptState.PENDING,
    "SERVER": ReceiptState.SERVER,
    "DEVICE": ReceiptState.DEVICE,
    "READ": ReceiptState.READ,
    "PLAYED": ReceiptState.PLAYED,
    "ERROR": ReceiptState.ERROR,
}


def fetch_receipts(
    post: Callable[..., requests.Response],
    url: str,
    message_ids: Sequence[str],
    *,
    provider: str,
    timeout: tuple[float, float],
    request_error: type[Exception],
) -> dict[str, Receipt]:
    """The receipts the bridge at ``url`` has for ``message_ids``; unknown ids are left out.

    One request per ``RECEIPTS_BATCH`` distinct ids. Raises ``BroadcastioError``
    naming ``provider`` when the bridge cannot be reached or refuses
    (``PROVIDER_UNAVAILABLE``, ``AUTHENTICATION_FAILED``, or
    ``PROVIDER_REJECTED`` for an answer that is not a receipts answer, such
    as a bridge too old to have the endpoint).
    """
    wanted = list(dict.fromkeys(message_ids))
    found: dict[str, Receipt] = {}
    for start in range(0, len(wanted), RECEIPTS_BATCH):
        batch = wanted[start : start + RECEIPTS_BATCH]
        try:
            response = post(url, json={"ids": batch}, timeout=timeout)
        except request_error as error:
            raise BroadcastioError(
                f"provider {provider!r}: cannot ask the bridge for receipts: "
                f"{type(error).__name__}",
                code=ErrorCode.PROVIDER_UNAVAILABLE,
                details={"provider": provider, "url": url},
            ) from None
        for item in _receipt_items(response, provider, url):
            receipt = receipt_from_answer(item)
            if receipt is not None:
                found[receipt.message_id] = receipt
    return found


def _receipt_items(response: requests.Response, provider: str, url: str) -> list[Any]:
    status = response.status_code
    details = {"provider": provider, "url": url, "status": status}
    if status == 401:
        raise BroadcastioError(
            f"provider {provider!r}: the bridge refused the API key when asked for receipts",
            code=ErrorCode.AUTHENTICATION_FAILED,
            details=details,
        )
    if status == 404:
        raise BroadcastioError(
            f"provider {provider!r}: the bridge at {url} has no receipts endpoint; "
            "upgrade the node-bridge",
            code=ErrorCode.PROVIDER_REJECTED,
            details=details,
        )
    if status >= 500 or status == 429:
        raise BroadcastioError(
            f"provider {provider!r}: the bridge answered {status} when asked for receipts",
            code=ErrorCode.PROVIDER_UNAVAILABLE,
            details=details,
        )
    try:
        body = response.json() if status == 200 else None
    except ValueError:
        body = None
    items = body.get("receipts") if isinstance(body, Mapping) else None
    if not isinstance(items, list):
        raise BroadcastioError(
            f"provider {provider!r}: the bridge answered {status} without receipts "
            "when asked for them",
            code=ErrorCode.PROVIDER_REJECTED,
            details=details,
        )
    return items


def receipt_from_answer(item: Any) -> Receipt | None:
    """A ``Receipt`` from one entry of the bridge's answer; ``None`` for an unknown id.

    An entry that is not what the bridge documents (an unknown ack name, a
    time that does not parse) is also ``None``: one odd entry must not cost
    the whole batch, and "unknown" is the honest reading of it.
    """
    if not isinstance(item, Mapping) or item.get("known") is not True:
        return None
    message_id, state = item.get("id"), _STATES.get(str(item.get("ack")))
    if not isinstance(message_id, str) or not message_id or state is None:
        return None
    given = item.get("acks")
    acks: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    try:
        device = _first_time(acks, ("DEVICE", "READ", "PLAYED"))
        read = _first_time(acks, ("READ", "PLAYED"))
        return Receipt(
            message_id=message_id,
            state=state,
            updated_at=_time(item.get("updatedAt")),
            delivered_at=device if state.at_least(ReceiptState.DEVICE) else None,
            read_at=read if state.at_least(ReceiptState.READ) else None,
        )
    except ValueError:
        return None


def _first_time(acks: Mapping[str, Any], names: tuple[str, ...]) -> dt.datetime | None:
    """The time of the first of ``names`` the bridge recorded (a later tick implies the earlier)."""
    for name in names:
        value = _time(acks.get(name))
        if value is not None:
            return value
    return None


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    # Node writes "...Z", which fromisoformat reads only from Python 3.11.
    parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)

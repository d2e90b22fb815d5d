"""What the bridge's ``GET /v1/session`` answer (or its absence) says about readiness.

Health asks an authenticated route on purpose: the bridge's ``/health`` needs
no key, so a provider with a wrong key looked ready while every send failed
with ``AUTHENTICATION_FAILED``. Asking ``/v1/session`` checks the address, the
key and the WhatsApp session in one request. Nothing here raises; every answer
becomes a ``ProviderHealth`` whose ``reason`` says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from broadcastio import ProviderHealth
from broadcastio_whatsapp.outcomes import PROVIDER, authentication_problem, root_cause

if TYPE_CHECKING:
    import requests

__all__ = [
    "READY_STATE",
    "SESSION_PATH",
    "SESSION_STATE_REASONS",
    "health_from_exception",
    "health_from_response",
]

SESSION_PATH = "/v1/session"

READY_STATE = "READY"
"""The one session state in which the bridge can send."""

SESSION_STATE_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "STARTING": "the bridge is starting WhatsApp Web",
        "QR": "QR: scan the code (GET /v1/session/qr, or the bridge's terminal) with "
        "WhatsApp > Linked devices",
        "AUTHENTICATED": "authenticated; WhatsApp Web is still loading",
        "DISCONNECTED": "the WhatsApp session is disconnected; the bridge is reconnecting",
        "FAILED": "the WhatsApp session failed; see last_error",
    }
)
"""What a user should know (or do) for each session state other than READY_STATE.

One entry per state of the bridge's ``node-bridge/src/session-state.js`` (the
``enum`` wherever a state appears in its ``/openapi.json``) except READY, so a
health check never falls back to the bare state name for a state the bridge
can report; tests/whatsapp/test_bridge_contract.py checks that."""


def health_from_exception(
    error: requests.RequestException, base_url: str, timeout: tuple[float, float]
) -> ProviderHealth:
    """No HTTP answer: unreachable (nothing listening, no connection in time) or silent."""
    import requests  # already imported by whoever made the request

    details: dict[str, Any] = {"exception_type": type(error).__name__}
    if isinstance(error, requests.ConnectTimeout):
        reason = f"bridge unreachable at {base_url}: no connection within {timeout[0]:g} s"
    elif isinstance(error, requests.ReadTimeout):
        # Something accepted the connection but said nothing: a hung bridge, or
        # another service on that port. Not the same fix as a stopped bridge.
        reason = f"the bridge at {base_url} did not answer in {timeout[1]:g} s"
    elif isinstance(error, requests.ConnectionError):
        reason = f"bridge unreachable at {base_url}: {root_cause(error)}"
    else:
        reason = f"the request to the bridge at {base_url} failed: {root_cause(error)}"
    details["reason"] = reason
    return ProviderHealth(provider=PROVIDER, ready=False, details=details)


def health_from_response(response: requests.Response, *, api_key_set: bool) -> ProviderHealth:
    """An HTTP answer: refused key, something that is not the bridge, or the session's state."""
    status = response.status_code
    url = response.url
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if status in (401, 403):
        details: dict[str, Any] = {"reason": authentication_problem(api_key_set)}
        details["http_status"] = status
        if isinstance(error, dict) and error.get("message"):
            details["bridge_message"] = str(error["message"])
        return ProviderHealth(provider=PROVIDER, ready=False, details=details)
    if body is None:
        return _not_ready(
            f"{url} answered HTTP {status} with a body that is not JSON; "
            "is base_url the broadcastio bridge?",
            status,
            excerpt=response.text[:200],
        )
    if status != 200:
        reason = f"{url} answered HTTP {status}"
        if isinstance(error, dict) and error.get("message"):
            reason += f": {error['message']}"
        if status == 404:
            reason += " (is base_url the broadcastio bridge, version 0.1 or later?)"
        return _not_ready(reason, status)
    state = body.get("state") if isinstance(body, dict) else None
    if not isinstance(state, str):
        return _not_ready(f"{url} answered without a session state", status)
    ready = body.get("ready") is True and state == READY_STATE
    session: dict[str, Any] = {"state": state}
    if body.get("lastError"):
        session["last_error"] = body["lastError"]
    if body.get("since"):
        session["since"] = body["since"]
    if not ready:
        session["reason"] = SESSION_STATE_REASONS.get(state, f"session state {state!r}")
    pacing = _pacing_of(body.get("pacing"))
    if pacing:
        session["pacing"] = pacing
        risk_until = pacing.get("risk_paused_until")
        if ready and risk_until:
            # A risk pause is a signal that the account is in trouble: report the
            # provider as not ready, so the chain moves on to the next channel.
            ready = False
            session["reason"] = (
                f"the bridge paused sends until {risk_until} after a risk signal "
                f"({pacing.get('pause_reason', 'unknown')})"
            )
    return ProviderHealth(provider=PROVIDER, ready=ready, details=session)


_PACING_FIELDS = {
    "enabled": "enabled",
    "sentLastHour": "sent_last_hour",
    "sentLast24h": "sent_last_24h",
    "hourlyCap": "hourly_cap",
    "dailyCap": "daily_cap",
    "warmupDay": "warmup_day",
    "pausedUntil": "paused_until",
    "pauseReason": "pause_reason",
    "riskPausedUntil": "risk_paused_until",
}


def _pacing_of(block: Any) -> dict[str, Any]:
    """The bridge's ``pacing`` block in snake case, without its empty fields.

    An older bridge has no block: the result is empty and health is what the
    session state says.
    """
    if not isinstance(block, dict):
        return {}
    return {
        name: block[key]
        for key, name in _PACING_FIELDS.items()
        if block.get(key) is not None and isinstance(block[key], (bool, int, str))
    }


def _not_ready(reason: str, status: int, **extra: Any) -> ProviderHealth:
    return ProviderHealth(
        provider=PROVIDER, ready=False, details={"reason": reason, "http_status": status, **extra}
    )

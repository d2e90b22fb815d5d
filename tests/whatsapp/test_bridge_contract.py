"""The WhatsApp provider against the contract the real bridge publishes.

The bridge spells its error codes and session states once and enumerates them
in ``/openapi.json`` (``node-bridge/src/error-codes.js``, ``session-state.js``).
These tests read that document from the running bridge, so a code or state
added on the Node side without a deliberate meaning on the Python side fails
here instead of quietly becoming a generic ``PROVIDER_REJECTED`` or a bare
state name in ``broadcastio health``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio import ErrorCode, Message
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings
from broadcastio_whatsapp.outcomes import BRIDGE_ERROR_CODES
from broadcastio_whatsapp.session_health import READY_STATE, SESSION_STATE_REASONS

MESSAGE = Message("+15551234567", "hello")


@pytest.fixture(scope="module")
def openapi(real_bridge: Any) -> dict[str, Any]:
    """The running bridge's own OpenAPI document."""
    response = requests.get(f"{real_bridge.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _error_responses(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, schema of ``error``) for every documented 4xx/5xx answer."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.isdigit() or int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]
                yield f"{method.upper()} {path} {status}", schema["properties"]["error"]


def _state_enums(node: Any, where: str = "$") -> Iterator[tuple[str, list[str]]]:
    """(where, enum) for every schema property named ``state`` in the document."""
    if isinstance(node, dict):
        state = node.get("properties", {}).get("state") if "properties" in node else None
        if isinstance(state, dict) and "enum" in state:
            yield where, state["enum"]
        for key, value in node.items():
            yield from _state_enums(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _state_enums(value, f"{where}[{index}]")


def published_error_codes(document: dict[str, Any]) -> list[str]:
    """The catalogue, checked to be the same list on every error answer."""
    enums = {
        where: error["properties"]["code"].get("enum")
        for where, error in _error_responses(document)
    }
    assert len(enums) > 20, "the document describes the bridge's error answers"
    distinct = {tuple(enum) for enum in enums.values() if enum is not None}
    missing = [where for where, enum in enums.items() if enum is None]
    assert not missing, f"error answers without a code enum: {missing}"
    assert len(distinct) == 1, f"error answers disagree on the codes: {distinct}"
    (codes,) = distinct
    return list(codes)


def published_session_states(document: dict[str, Any]) -> list[str]:
    """The states, checked to be the same list wherever a state appears."""
    enums = dict(_state_enums(document["paths"]))
    assert len(enums) >= 5, f"states appear in /health, /v1/session and errors: {enums}"
    distinct = {tuple(enum) for enum in enums.values()}
    assert len(distinct) == 1, f"the document disagrees on the states: {distinct}"
    (states,) = distinct
    return list(states)


def test_every_bridge_error_code_has_a_deliberate_meaning(openapi: dict[str, Any]) -> None:
    codes = set(published_error_codes(openapi))
    unmapped = sorted(codes - set(BRIDGE_ERROR_CODES))
    stale = sorted(set(BRIDGE_ERROR_CODES) - codes)
    assert not unmapped, f"bridge codes without an entry in outcomes.BRIDGE_ERROR_CODES: {unmapped}"
    assert not stale, f"outcomes.BRIDGE_ERROR_CODES entries the bridge never answers: {stale}"
    assert all(isinstance(code, ErrorCode) for code in BRIDGE_ERROR_CODES.values())


def test_every_session_state_has_words_or_is_ready(openapi: dict[str, Any]) -> None:
    states = set(published_session_states(openapi))
    assert READY_STATE in states
    assert states - {READY_STATE} == set(SESSION_STATE_REASONS), (
        "session_health.SESSION_STATE_REASONS must cover exactly the bridge's not-ready states"
    )


def test_health_gives_the_reason_for_each_state_the_bridge_reports(
    bridge: Any, openapi: dict[str, Any]
) -> None:
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        for state in published_session_states(openapi):
            bridge.set_state(state)
            health = provider.health()
            assert health.details["state"] == state
            if state == READY_STATE:
                assert health.ready, health.details
            else:
                assert not health.ready
                assert health.details["reason"] == SESSION_STATE_REASONS[state]


@settings(
    max_examples=60,
    deadline=None,
    # One scripted answer per example, consumed by its one send: nothing of
    # the server's state carries over between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), status=st.integers(min_value=400, max_value=599))
def test_the_bridge_code_decides_the_outcome_whatever_the_status(
    scripted_server: Any, openapi: dict[str, Any], data: st.DataObject, status: int
) -> None:
    code = data.draw(st.sampled_from(sorted(published_error_codes(openapi))), label="code")
    scripted_server.script(status, {"error": {"code": code, "message": "said the bridge"}})
    provider = WhatsAppProvider(WhatsAppSettings(base_url=scripted_server.url, api_key="k"))
    with provider:
        result = provider.send(MESSAGE)
    assert result.error is not None
    assert result.error.code is BRIDGE_ERROR_CODES[code]
    assert result.error.details["bridge_code"] == code
    assert result.error.details["http_status"] == status


@pytest.mark.parametrize("code", [["NOT_READY"], {"name": "NOT_READY"}, 503, None])
def test_a_code_that_is_not_a_string_falls_back_to_the_status(
    scripted_server: Any, code: Any
) -> None:
    scripted_server.script(503, {"error": {"code": code, "message": "odd"}})
    with WhatsAppProvider(WhatsAppSettings(base_url=scripted_server.url, api_key="k")) as provider:
        result = provider.send(MESSAGE)
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE

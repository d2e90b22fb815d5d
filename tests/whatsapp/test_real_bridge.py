"""WhatsAppProvider against the real node-bridge (fake WhatsApp driver): auth, health, format.

The bridge's ``/health`` needs no key, so a provider with a wrong key used to
report READY while every send failed. These tests pin what a user sees for each
way the key or the recipient can be wrong, with the bridge's real answers.
"""

from __future__ import annotations

import pytest

from broadcastio import ErrorCode, Message
from broadcastio_whatsapp import API_KEY_ENV, WhatsAppProvider

MESSAGE = Message("+15551234567", "hello")
REFUSED = f"the bridge refused the API key (set api_key / {API_KEY_ENV})"
MISSING = f"no API key is configured and the bridge requires one (set api_key / {API_KEY_ENV})"


@pytest.fixture(autouse=True)
def no_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)


def test_the_right_key_is_ready_and_sends(bridge) -> None:
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        health = provider.health()
        assert health.ready, health.details
        assert health.details["state"] == "READY"
        assert provider.send(MESSAGE).success
    assert len(bridge.sent()) == 1


def test_a_wrong_key_is_not_ready_and_names_the_setting(bridge) -> None:
    with WhatsAppProvider(base_url=bridge.url, api_key="not-the-key") as provider:
        health = provider.health()
        assert not health.ready
        assert health.details["reason"] == REFUSED
        assert health.details["http_status"] == 401
        result = provider.send(MESSAGE)
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert result.error.message == REFUSED
    assert bridge.sent() == []


def test_no_key_is_not_ready_and_says_none_is_configured(bridge) -> None:
    with WhatsAppProvider(base_url=bridge.url) as provider:
        health = provider.health()
        assert not health.ready
        assert health.details["reason"] == MISSING
        result = provider.send(MESSAGE)
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert result.error.message == MISSING


def test_a_key_from_the_environment_is_used_for_health(bridge, monkeypatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, bridge.api_key)
    with WhatsAppProvider(base_url=bridge.url) as provider:
        assert provider.health().ready


@pytest.mark.parametrize(
    ("state", "reason"),
    [("QR", "QR: scan the code"), ("DISCONNECTED", "disconnected"), ("STARTING", "starting")],
)
def test_session_states_keep_their_reasons(bridge, state, reason) -> None:
    bridge.set_state(state)
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        health = provider.health()
    assert not health.ready
    assert health.details["state"] == state
    assert reason in health.details["reason"]


def test_a_failed_session_reports_its_last_error(bridge) -> None:
    bridge.set_state("FAILED", "auth failure")
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        health = provider.health()
    assert not health.ready
    assert health.details["last_error"] == "auth failure"


@pytest.mark.parametrize("recipient", ["555-1234", "+1 555 123 4567", "12345", "alice@example.com"])
def test_an_invalid_recipient_says_what_format_is_expected(bridge, recipient) -> None:
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        result = provider.send(Message(recipient, "hello"))
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert result.error.details["field"] == "to"
    assert result.error.message.startswith(
        f"the WhatsApp bridge rejected the recipient {recipient!r}"
    )
    assert "+15551234567" in result.error.message
    assert "@c.us" in result.error.message and "@g.us" in result.error.message
    assert bridge.sent() == []


def test_a_number_without_whatsapp_keeps_the_bridge_words(bridge) -> None:
    bridge.unregister("15551234567")
    with WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key) as provider:
        result = provider.send(MESSAGE)
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert "not registered on WhatsApp" in result.error.message

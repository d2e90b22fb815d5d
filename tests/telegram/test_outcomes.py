"""Every answer of the Bot API (and every way of getting none) as a result; never the token.

Each case also runs with urllib3's debug logging captured: the token is in
every request's path, and urllib3 logs the path of each request it makes.
"""

from __future__ import annotations

import logging
import socket

import pytest
from fake_telegram import FakeTelegram, Scripted
from telegram_helpers import OTHER_TOKEN, TOKEN, words_of

from broadcastio import ErrorCode, Message
from broadcastio_telegram import TelegramProvider

SCRIPTED_FAILURES = [
    (
        Scripted(429, "Too Many Requests: retry after 17", retry_after=17),
        ErrorCode.RATE_LIMITED,
        {"retry_after": 17.0, "telegram_error_code": 429},
    ),
    (
        Scripted(403, "Forbidden: bot was blocked by the user"),
        ErrorCode.INVALID_RECIPIENT,
        {"http_status": 403},
    ),
    (
        Scripted(403, "Forbidden: bot was kicked from the group chat"),
        ErrorCode.INVALID_RECIPIENT,
        {"http_status": 403},
    ),
    (
        Scripted(400, "Bad Request: chat not found"),
        ErrorCode.INVALID_RECIPIENT,
        {"telegram_description": "Bad Request: chat not found"},
    ),
    (
        Scripted(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=-1009876543210,
        ),
        ErrorCode.INVALID_RECIPIENT,
        {"migrate_to_chat_id": -1009876543210},
    ),
    (
        Scripted(400, "Bad Request: can't parse entities: unsupported start tag"),
        ErrorCode.INVALID_MESSAGE,
        {"http_status": 400},
    ),
    (
        Scripted(401, "Unauthorized"),
        ErrorCode.AUTHENTICATION_FAILED,
        {"http_status": 401},
    ),
    (
        Scripted(500, "Internal Server Error"),
        ErrorCode.PROVIDER_UNAVAILABLE,
        {"http_status": 500},
    ),
    (
        Scripted(502, "Bad Gateway"),
        ErrorCode.PROVIDER_UNAVAILABLE,
        {"http_status": 502},
    ),
    (Scripted(drop=True), ErrorCode.PROVIDER_UNAVAILABLE, {"method": "sendMessage"}),
]


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def _assert_no_token(caplog: pytest.LogCaptureFixture, *things: object) -> None:
    assert TOKEN not in caplog.text
    for thing in things:
        assert TOKEN not in words_of(thing)


@pytest.mark.parametrize(("scripted", "code", "details"), SCRIPTED_FAILURES)
def test_each_bot_api_error_maps_to_its_code_and_keeps_the_token_out(
    fake: FakeTelegram,
    provider: TelegramProvider,
    caplog: pytest.LogCaptureFixture,
    scripted: Scripted,
    code: ErrorCode,
    details: dict[str, object],
) -> None:
    fake.script("sendMessage", scripted)

    result = provider.send(Message("42", "hello"))

    assert not result.success
    assert result.error is not None
    assert result.error.code is code, result.error
    assert details.items() <= result.error.details.items()
    assert fake.messages == []
    _assert_no_token(caplog, result)


def test_chats_the_bot_cannot_reach_are_invalid_recipients(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    fake.missing_chats.add("404")
    fake.blocked_chats.add("403")

    missing = provider.send(Message("404", "hello"))
    blocked = provider.send(Message("403", "hello"))

    assert missing.error is not None and blocked.error is not None
    assert missing.error.code is blocked.error.code is ErrorCode.INVALID_RECIPIENT
    assert "chat not found" in missing.error.message
    assert "blocked" in blocked.error.message


def test_a_token_the_bot_api_does_not_know_is_authentication_failed(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    with TelegramProvider(token=OTHER_TOKEN, api_base=fake.api_base) as provider:
        result = provider.send(Message("42", "hello"))
        health = provider.health()

    assert result.error is not None
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert "BROADCASTIO_TELEGRAM_TOKEN" in result.error.message
    assert not health.ready
    assert health.details["code"] == "AUTHENTICATION_FAILED"
    assert OTHER_TOKEN not in caplog.text
    assert OTHER_TOKEN not in words_of(result) + words_of(health)


def test_an_api_base_that_is_no_bot_api_is_misconfigured(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    with TelegramProvider(token=TOKEN, api_base=fake.api_base + "/somewhere") as provider:
        result = provider.send(Message("42", "hello"))

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert "api_base" in result.error.message
    _assert_no_token(caplog, result)


def test_no_answer_in_time_is_an_ambiguous_timeout(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script("sendMessage", Scripted(delay=1.5))
    with TelegramProvider(token=TOKEN, api_base=fake.api_base, timeout=0.3) as provider:
        result = provider.send(Message("42", "hello"))

    assert result.error is not None
    assert result.error.code is ErrorCode.TIMEOUT
    assert "may have been sent" in result.error.message
    _assert_no_token(caplog, result)


def test_a_server_that_refuses_connections_is_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with TelegramProvider(token=TOKEN, api_base=f"http://127.0.0.1:{port}") as provider:
        result = provider.send(Message("42", "hello"))
        health = provider.health()

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "refused" in result.error.message.lower()
    # requests' own words name the URL: they are kept, with the token redacted.
    assert "/bot<token>/sendMessage" in result.error.details["exception"]
    assert not health.ready
    assert TOKEN not in caplog.text
    assert TOKEN not in words_of(result) + words_of(health)


def test_health_is_get_me(
    fake: FakeTelegram, provider: TelegramProvider, caplog: pytest.LogCaptureFixture
) -> None:
    health = provider.health()

    assert health.ready, health.details
    assert health.details["bot"] == "@fake987654321_bot"
    (call,) = fake.calls
    assert (call.http_method, call.method) == ("GET", "getMe")
    _assert_no_token(caplog, health)


def test_a_closed_provider_fails_without_connecting(
    fake: FakeTelegram, provider: TelegramProvider
) -> None:
    provider.close()
    provider.close()

    result = provider.send(Message("42", "hello"))

    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert not provider.health().ready
    assert fake.calls == []


def test_urllib3_logs_each_request_with_the_token_redacted(
    fake: FakeTelegram, provider: TelegramProvider, caplog: pytest.LogCaptureFixture
) -> None:
    result = provider.send(Message("42", "hello"))

    assert result.success
    assert "/bot<token>/sendMessage" in caplog.text
    _assert_no_token(caplog, result)


def test_the_provider_and_its_settings_never_show_the_token(
    provider: TelegramProvider,
) -> None:
    assert TOKEN not in repr(provider) + repr(provider.settings) + str(provider.settings)

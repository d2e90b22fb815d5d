"""Settings: what is refused (and that a refused token is never repeated), the environment."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram_helpers import TOKEN

from broadcastio import ConfigurationError, ValidationError
from broadcastio_telegram import DEFAULT_API_BASE, TelegramProvider, TelegramSettings


@pytest.mark.parametrize(
    "token",
    ["4242", "abc:def", "123:abc/../getUpdates", "123:abc?x=1", "123: abc", " 123:abc", ""],
)
def test_a_malformed_token_is_refused_without_being_repeated(token: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TelegramSettings(token=token)

    assert raised.value.field == "token"
    if token.strip():
        assert token not in str(raised.value)


def test_an_api_base_holding_a_token_is_refused_without_being_repeated() -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    with pytest.raises(ValidationError) as raised:
        TelegramSettings(api_base=url)

    assert TOKEN not in str(raised.value)
    assert "token" in str(raised.value)


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("html", "spelled HTML"),
        ("markdownv2", "spelled MarkdownV2"),
        ("Markdown", "legacy"),
        ("bbcode", "HTML, MarkdownV2"),
    ],
)
def test_parse_mode_is_one_of_the_two_that_can_be_made_safe(value: str, hint: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TelegramSettings(parse_mode=value)

    assert raised.value.field == "parse_mode"
    assert hint in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0),
        ("timeout", 601),
        ("connect_timeout", -1),
        ("health_timeout", 301),
        ("pool_size", 0),
        ("pool_size", 1001),
        ("disable_notification", "yes"),
        ("api_base", "ftp://api.telegram.org"),
        ("api_base", "https://api.telegram.org/?x=1"),
    ],
)
def test_out_of_range_values_name_their_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        TelegramSettings(**{field: value})

    assert raised.value.field == field


def test_the_environment_fills_what_was_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTIO_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("BROADCASTIO_TELEGRAM_API_BASE", "http://127.0.0.1:8081")

    with TelegramProvider() as provider:
        assert provider.api_base == "http://127.0.0.1:8081"
    with TelegramProvider(api_base="http://127.0.0.1:8081/") as provider:
        assert provider.api_base == "http://127.0.0.1:8081"  # the same server: its token
    # Another server never gets the environment's token (it travels in every path).
    with pytest.raises(ConfigurationError) as raised:
        TelegramProvider(api_base="https://tg.example.com/")
    assert raised.value.field == "token"
    assert TOKEN not in str(raised.value)
    assert TelegramProvider.configured_by_environment({"BROADCASTIO_TELEGRAM_TOKEN": TOKEN})
    assert not TelegramProvider.configured_by_environment({"BROADCASTIO_TELEGRAM_TOKEN": ""})


def test_a_bad_token_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADCASTIO_TELEGRAM_TOKEN", "not-a-token")

    with pytest.raises(ValidationError) as raised:
        TelegramSettings().with_environment({"BROADCASTIO_TELEGRAM_TOKEN": "not-a-token"})

    assert raised.value.field == "BROADCASTIO_TELEGRAM_TOKEN"
    assert "not-a-token" not in str(raised.value)


def test_without_a_token_the_provider_cannot_be_made() -> None:
    with pytest.raises(ConfigurationError) as raised:
        TelegramProvider()

    assert "BROADCASTIO_TELEGRAM_TOKEN" in str(raised.value)
    assert "BotFather" in str(raised.value)


def test_defaults_and_unknown_settings() -> None:
    settings = TelegramSettings().with_environment({})
    assert settings.api_base == DEFAULT_API_BASE
    assert settings.parse_mode is None
    assert settings.with_environment({}) is settings

    with pytest.raises(ConfigurationError) as raised:
        TelegramProvider(token=TOKEN, parsemode="HTML")
    assert "parse_mode" in str(raised.value)


@given(
    api_base=st.sampled_from(
        [
            None,
            "https://api.telegram.org",
            "HTTPS://API.telegram.org:443/",
            "https://tg.example.com",
            "http://api.telegram.org",
            "https://api.telegram.org:8443",
        ]
    ),
    environment_base=st.sampled_from(["", "https://tg.example.com/"]),
)
def test_the_environment_token_goes_only_to_the_environment_server(
    api_base: str | None, environment_base: str
) -> None:
    environ = {
        "BROADCASTIO_TELEGRAM_TOKEN": TOKEN,
        "BROADCASTIO_TELEGRAM_API_BASE": environment_base,
    }
    resolved = TelegramSettings(api_base=api_base).with_environment(environ)

    server = urlsplit(resolved.api_base or "")
    intended = urlsplit(environment_base or DEFAULT_API_BASE)
    same = (server.scheme.lower(), server.hostname, server.port or 443) == (
        intended.scheme,
        intended.hostname,
        intended.port or 443,
    )
    assert (resolved.token == TOKEN) is same
    assert resolved.with_environment(environ) == resolved

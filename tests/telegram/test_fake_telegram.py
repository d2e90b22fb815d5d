"""The fake Bot API is only worth trusting if it refuses what Telegram refuses: raw requests."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from fake_telegram import FakeTelegram
from telegram_helpers import OTHER_TOKEN, TOKEN


def call(fake: FakeTelegram, method: str, *, token: str = TOKEN, http: str = "POST",
         **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = requests.request(http, f"{fake.api_base}/bot{token}/{method}", timeout=5, **kwargs)
    body = response.json()
    assert body["ok"] is (response.status_code == 200)
    if not body["ok"]:
        assert body["error_code"] == response.status_code
        assert isinstance(body["description"], str)
    return response.status_code, body


@pytest.mark.parametrize(
    ("request_kwargs", "fragment"),
    [
        ({"json": {"text": "hi"}}, "chat_id is empty"),
        ({"json": {"chat_id": 42}}, "message text is empty"),
        ({"json": {"chat_id": "not a chat", "text": "hi"}}, "chat not found"),
        ({"json": {"chat_id": 42, "text": "   "}}, "text is empty"),
        ({"json": {"chat_id": 42, "text": "x" * 4097}}, "too long"),
        ({"json": {"chat_id": 42, "text": "😀" * 2049}}, "too long"),  # 4,098 UTF-16 units
        ({"json": {"chat_id": 42, "text": "hi", "parse_mode": "html"}}, "parse_mode"),
        ({"json": {"chat_id": 42, "text": "a < b", "parse_mode": "HTML"}}, "parse entities"),
        ({"json": {"chat_id": 42, "text": "<b>open", "parse_mode": "HTML"}}, "end tag"),
        ({"json": {"chat_id": 42, "text": "<b><i>x</b></i>", "parse_mode": "HTML"}}, "end tag"),
        ({"json": {"chat_id": 42, "text": "<blink>x</blink>", "parse_mode": "HTML"}}, "tag"),
        ({"json": {"chat_id": 42, "text": "v1.2", "parse_mode": "MarkdownV2"}}, "reserved"),
        ({"json": {"chat_id": 42, "text": "*bold", "parse_mode": "MarkdownV2"}}, "end"),
        (
            {"json": {"chat_id": 42, "text": "hi", "entities": [
                {"type": "bold", "offset": 0, "length": 3}]}},
            "entities",
        ),
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, "JSON"),
        ({"data": b"x", "headers": {"Content-Type": "text/plain"}}, "Content-Type"),
    ],
)
def test_malformed_send_message_requests_are_400(
    fake: FakeTelegram, request_kwargs: dict[str, Any], fragment: str
) -> None:
    status, body = call(fake, "sendMessage", **request_kwargs)

    assert status == 400
    assert fragment in body["description"]
    assert fake.messages == []


def test_a_well_formed_message_is_delivered_in_each_encoding(fake: FakeTelegram) -> None:
    assert call(fake, "sendMessage", json={"chat_id": 42, "text": "json"})[0] == 200
    assert call(fake, "sendMessage", data={"chat_id": "42", "text": "form"})[0] == 200
    assert call(fake, "sendMessage", files={"chat_id": (None, "42"), "text": (None, "multi")})[
        0
    ] == 200
    html = {"chat_id": 42, "text": '<b>a &amp; <a href="https://x.io">b</a></b> &#128512;',
            "parse_mode": "HTML"}
    assert call(fake, "sendMessage", json=html)[0] == 200

    assert [message.visible for message in fake.messages] == [
        "json", "form", "multi", "a & b 😀"
    ]


def test_sends_must_be_posts_and_files_uploads(fake: FakeTelegram) -> None:
    status, body = call(fake, "sendMessage", http="GET", params={"chat_id": 42, "text": "hi"})
    assert status == 400 and "POST" in body["description"]

    status, body = call(fake, "sendPhoto", json={"chat_id": 42, "photo": "https://x.io/a.png"})
    assert status == 400 and "photo" in body["description"]

    status, body = call(
        fake, "sendPhoto", data={"chat_id": "42"},
        files={"photo": ("a.gif", b"GIF89a", "image/gif")},
    )
    assert status == 400 and "IMAGE_PROCESS_FAILED" in body["description"]

    status, body = call(
        fake, "sendDocument",
        data={"chat_id": "42", "caption": "y" * 1025},
        files={"document": ("a.txt", b"text", "text/plain")},
    )
    assert status == 400 and "too long" in body["description"]
    assert fake.messages == []


def test_paths_and_tokens_are_checked_as_the_bot_api_does(fake: FakeTelegram) -> None:
    assert call(fake, "getMe", token="no-colon")[0] == 404
    assert call(fake, "getMe", token=OTHER_TOKEN)[0] == 401
    assert call(fake, "sendSticker", json={"chat_id": 42})[0] == 404
    status, body = call(fake, "getme", http="GET")  # method names are case-insensitive
    assert status == 200 and body["result"]["is_bot"] is True
    assert json.dumps(body).count(TOKEN) == 0

"""Against the real Bot API: only when a bot and a chat are given, never in CI by default.

``BROADCASTIO_TELEGRAM_SMOKE_TOKEN`` (a bot's token) and
``BROADCASTIO_TELEGRAM_SMOKE_CHAT`` (a chat that has started that bot) turn it
on. It sends two real messages: one with a title in HTML, one long enough to
be split.
"""

from __future__ import annotations

import os

import pytest

from broadcastio import Message
from broadcastio_telegram import TelegramProvider

TOKEN = os.environ.get("BROADCASTIO_TELEGRAM_SMOKE_TOKEN", "")
CHAT = os.environ.get("BROADCASTIO_TELEGRAM_SMOKE_CHAT", "")

pytestmark = pytest.mark.skipif(
    not (TOKEN and CHAT),
    reason="set BROADCASTIO_TELEGRAM_SMOKE_TOKEN and BROADCASTIO_TELEGRAM_SMOKE_CHAT "
    "to send through the real Bot API",
)


def test_the_real_bot_api_takes_a_titled_html_message_and_a_split_one() -> None:
    with TelegramProvider(token=TOKEN, parse_mode="HTML") as provider:
        assert provider.health().ready
        titled = provider.send(
            Message(CHAT, "<i>broadcastio</i> smoke test &amp; more", title="Smoke <1>")
        )
        long = provider.send(Message(CHAT, "\n\n".join(["paragraph " * 100] * 8)))

    assert titled.success, titled.error
    assert long.success, long.error
    assert long.details["parts"] >= 2
    assert TOKEN not in repr(titled) + repr(long)

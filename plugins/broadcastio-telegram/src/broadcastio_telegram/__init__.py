"""broadcastio-telegram: send messages through a Telegram bot (the Bot API)."""

from broadcastio_telegram.calls import BotApiCall, chat_id_of
from broadcastio_telegram.progress import RESUME_MEMORY
from broadcastio_telegram.provider import TelegramProvider
from broadcastio_telegram.settings import (
    API_BASE_ENV,
    DEFAULT_API_BASE,
    PARSE_MODES,
    TOKEN_ENV,
    TelegramSettings,
)
from broadcastio_telegram.splitting import (
    CAPTION_LIMIT,
    MESSAGE_LIMIT,
    escape_html,
    escape_markdown_v2,
    split_text,
    utf16_length,
)

__all__ = [
    "API_BASE_ENV",
    "BotApiCall",
    "CAPTION_LIMIT",
    "DEFAULT_API_BASE",
    "MESSAGE_LIMIT",
    "PARSE_MODES",
    "RESUME_MEMORY",
    "TOKEN_ENV",
    "TelegramProvider",
    "TelegramSettings",
    "chat_id_of",
    "escape_html",
    "escape_markdown_v2",
    "split_text",
    "utf16_length",
]

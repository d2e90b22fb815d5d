"""What the Telegram tests share: the bot token (the secret to look for), images, checks."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from broadcastio import DeliveryResult

TOKEN = "987654321:AAHsecret-Token_value-never-shown-0123456"
"""The fake's bot. Every test that produces words checks this never appears in them."""

OTHER_TOKEN = "555000111:AAFanother-bot-token_value-kept-secret99"


def png(width: int, height: int) -> bytes:
    """A real (tiny, grey) PNG of that size."""
    row = b"\x00" + b"\x80" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """The start of a baseline JPEG: SOI, an APP0 segment, and the SOF0 with the size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def words_of(result: Any) -> str:
    """Everything a result, health report or exception could show a person or a log."""
    if isinstance(result, DeliveryResult):
        return repr(result) + json.dumps(result.to_dict(), default=str)
    return repr(result) + str(result)

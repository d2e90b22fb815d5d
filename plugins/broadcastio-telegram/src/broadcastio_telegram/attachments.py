"""Whether an attachment goes out as a photo (shown inline) or as a document (a file).

``sendPhoto`` takes a JPEG or PNG of at most 10 MB whose width and height add
up to at most 10,000 and whose sides differ by a factor of at most 20;
Telegram recompresses it. Anything else, or an image whose size cannot be
read from its header, goes through ``sendDocument`` (up to 50 MB through the
public Bot API), which delivers the bytes unchanged: a file Telegram would
refuse as a photo is still delivered, as a file.
"""

from __future__ import annotations

import struct

__all__ = [
    "DOCUMENT_MAX_BYTES",
    "PHOTO_MAX_BYTES",
    "PHOTO_MAX_RATIO",
    "PHOTO_MAX_SIDES",
    "image_size",
    "is_photo",
]

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000
PHOTO_MAX_RATIO = 20
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024

_PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
# JPEG start-of-frame markers, which carry the image's size (not DHT, JPG, DAC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header; ``None`` for anything else or a damaged one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data.startswith(b"\xff\xd8"):
        index = 2
        while index + 9 <= len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            if marker == 0xFF:  # fill byte
                index += 1
                continue
            if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
                index += 2
                continue
            (length,) = struct.unpack(">H", data[index + 2 : index + 4])
            if marker in _SOF_MARKERS:
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return width, height
            index += 2 + length
    return None


def is_photo(data: bytes, mime_type: str | None) -> bool:
    """Whether ``sendPhoto`` will take these bytes; see the module's description."""
    if mime_type not in _PHOTO_TYPES or len(data) > PHOTO_MAX_BYTES:
        return False
    size = image_size(data)
    if size is None:
        return False
    width, height = size
    if width <= 0 or height <= 0 or width + height > PHOTO_MAX_SIDES:
        return False
    return max(width, height) <= PHOTO_MAX_RATIO * min(width, height)

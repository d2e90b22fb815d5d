"""Message text read from a file or standard input, with a bound on how much is read.

``--text-file /dev/zero`` (or a log file given by mistake, or a producer piping
without end) must not make the command read until memory runs out: the text is
read up to ``MAX_TEXT_BYTES`` and anything longer is refused, naming the source
and the limit.

Why 1 MiB: no provider sends a longer text. The WhatsApp bridge accepts at
most 65,536 characters (at most 256 KiB of UTF-8), and a broadcast's template
grows, never shrinks, when its fields are filled. 1 MiB leaves room for
providers with longer bodies (e-mail) and is still read in a blink.
"""

from __future__ import annotations

from typing import IO

__all__ = ["MAX_TEXT_BYTES", "TextTooLarge", "describe_limit", "read_bounded"]

MAX_TEXT_BYTES = 1024 * 1024


class TextTooLarge(Exception):
    """The source holds more than ``limit`` bytes (it was not read to its end)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {describe_limit(limit)}")
        self.limit = limit


def describe_limit(limit: int = MAX_TEXT_BYTES) -> str:
    """``limit`` as a person reads it: ``1 MiB``, ``64 KiB`` or ``100 bytes``."""
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def read_bounded(stream: IO[bytes], limit: int = MAX_TEXT_BYTES) -> bytes:
    """At most ``limit`` bytes of ``stream``, to its end; ``TextTooLarge`` if it holds more.

    One byte past the limit is read to tell "exactly the limit" from "more":
    an endless source costs ``limit + 1`` bytes and returns at once.
    """
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TextTooLarge(limit)
    return data

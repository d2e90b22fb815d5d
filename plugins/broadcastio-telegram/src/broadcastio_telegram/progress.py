"""Which parts of a partly sent message were delivered, so that a retry resumes after them."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence

from broadcastio import Message
from broadcastio_telegram.calls import BotApiCall

__all__ = ["RESUME_MEMORY", "PartProgress", "progress_key"]

RESUME_MEMORY = 10_000
"""How many partly sent messages a provider remembers, to resume them on retry.

Only messages cut short between parts are kept (a finished one is forgotten at
once), so the bound is reached only when that many messages failed half-way
and were never retried; the oldest is then forgotten, and a later retry of it
sends every part again."""


def progress_key(message: Message, address: str, calls: Sequence[BotApiCall]) -> str:
    """What identifies one message to one chat across retries: reference id, chat, content.

    The content is part of it so that a caller reusing a reference id for a
    different text never has a part skipped.
    """
    digest = hashlib.sha256()
    digest.update(f"{message.metadata.reference_id}\x00{address}".encode())
    for call in calls:
        digest.update(b"\x00" + call.method.encode())
        digest.update(json.dumps(call.fields, sort_keys=True, default=str).encode())
        if call.file is not None:
            digest.update(hashlib.sha256(call.file[2]).digest())
    return digest.hexdigest()


class PartProgress:
    """Message ids of the parts already delivered, per partly sent message; thread-safe."""

    def __init__(self, capacity: int = RESUME_MEMORY) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._sent: OrderedDict[str, list[int]] = OrderedDict()

    def sent(self, key: str) -> list[int]:
        """The ids of the parts of ``key`` delivered so far (a copy), in order."""
        with self._lock:
            return list(self._sent.get(key, ()))

    def remember(self, key: str, message_ids: Sequence[int]) -> None:
        """Record the parts delivered so far; the oldest record goes when full."""
        with self._lock:
            self._sent[key] = list(message_ids)
            self._sent.move_to_end(key)
            while len(self._sent) > self._capacity:
                self._sent.popitem(last=False)

    def forget(self, key: str) -> None:
        """The message is complete: nothing left to resume."""
        with self._lock:
            self._sent.pop(key, None)

"""Helpers shared by the broadcast tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator

from broadcastio import DeliveryResult, Message, MessageProvider, ProviderHealth

__all__ = ["CountingStream", "RecordingProvider", "make_messages", "recipient"]


def recipient(number: int) -> str:
    return f"+1555{number:07d}"


def make_messages(count: int, text: str = "Store closes at 6 today") -> list[Message]:
    return [Message(recipient(number), text) for number in range(count)]


class CountingStream:
    """An iterable of messages that records how many were taken from it."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages = messages
        self.consumed = 0

    def __iter__(self) -> Iterator[Message]:
        for message in self.messages:
            self.consumed += 1
            yield message


class RecordingProvider(MessageProvider):
    """Delivers everything and remembers each call: recipient -> reference ids sent."""

    name = "recording"

    def __init__(self, on_send: Callable[[Message, int], None] | None = None) -> None:
        self.calls: dict[str, list[str]] = collections.defaultdict(list)
        self.count = 0
        self.on_send = on_send
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            self.count += 1
            number = self.count
            self.calls[message.recipient].append(message.metadata.reference_id)
        if self.on_send is not None:
            self.on_send(message, number)
        return DeliveryResult.delivered(self.name, f"rec-{number}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)

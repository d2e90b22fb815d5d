"""Fixtures shared by the whole suite: a fake clock, scriptable providers, a clean plugin env."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from broadcastio import DeliveryResult, ErrorCode, Message, MessageProvider, ProviderHealth


class FakeClock:
    """A clock whose time moves only when something sleeps or the test advances it."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []
        self._origin = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)

    def now(self) -> dt.datetime:
        return self._origin + dt.timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class ScriptedProvider(MessageProvider):
    """A provider that replays a script of outcomes: a code fails, None succeeds,
    an exception instance is raised. After the script it succeeds."""

    def __init__(
        self,
        name: str,
        script: list[Any] | None = None,
        *,
        ready: bool = True,
        retry_after: float | None = None,
    ) -> None:
        self.name = name  # type: ignore[misc]
        self.script = list(script or [])
        self.ready = ready
        self.retry_after = retry_after
        self.calls: list[Message] = []
        self.health_calls = 0
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            self.calls.append(message)
            step = self.script.pop(0) if self.script else None
        if isinstance(step, BaseException):
            raise step
        if step is None:
            return DeliveryResult.delivered(self.name, f"{self.name}-{len(self.calls)}")
        details: dict[str, Any] = {"native": f"{self.name}-error"}
        if self.retry_after is not None:
            details["retry_after"] = self.retry_after
        return DeliveryResult.failed(self.name, step, f"{self.name} failed with {step}", **details)

    def health(self) -> ProviderHealth:
        with self._lock:
            self.health_calls += 1
        return ProviderHealth(self.name, self.ready, {"reason": "scripted"})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_provider() -> Callable[..., ScriptedProvider]:
    return ScriptedProvider


@pytest.fixture
def message() -> Message:
    return Message("+15551234567", "hello")


@pytest.fixture(autouse=True)
def _isolated_plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never inherit the developer's plugin filters."""
    monkeypatch.delenv("BROADCASTIO_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("BROADCASTIO_DISABLE_PLUGINS", raising=False)
    yield


__all__ = ["ErrorCode", "FakeClock", "ScriptedProvider"]

"""``DummyProvider``: pretends to deliver, with failures, health and latency on request."""

from __future__ import annotations

import collections
import itertools
import threading
import time
from typing import Any

import attrs

from broadcastio import (
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
    ValidationError,
)
from broadcastio.records.checks import (
    check_bool,
    check_error_code,
    check_int,
    check_number,
    check_text,
)
from broadcastio.records.ids import new_uuid4_hex
from broadcastio.providers.base import settings_from_arguments

__all__ = ["DummyProvider", "DummySettings"]


# Sane ranges (issue 10): a latency beyond an hour is a hang, not a simulation,
# and past ~9.2e18 seconds ``time.sleep`` overflows with a traceback mid-send.
FAIL_FIRST_LIMIT = 1_000_000
LATENCY_LIMIT = 3600.0
RETRY_AFTER_LIMIT = 86400.0
KEEP_SENT_LIMIT = 10_000_000
KEEP_SENT_DEFAULT = 10_000


@attrs.frozen
class DummySettings:
    """How the dummy behaves; every field has a default so ``DummyProvider()`` just works.

    Ranges, checked when the settings are built (so when a configuration is
    loaded): ``fail_first`` 0..1,000,000, ``latency`` 0..3600 seconds,
    ``retry_after`` 0..86400 seconds, ``keep_sent`` 0..10,000,000 or None.

    ``keep_sent`` bounds the window of delivered messages the dummy remembers
    in ``sent``: a dry run of a million-row list through the CLI must not grow
    without bound (issue 15), while a test of up to 10,000 sends still sees
    every one. ``None`` keeps all of them (memory grows with the sends).
    """

    fail_first: int = 0
    fail_code: ErrorCode = ErrorCode.PROVIDER_UNAVAILABLE
    retry_after: float | None = None
    healthy: bool = True
    latency: float = 0.0
    name: str | None = None
    keep_sent: int | None = KEEP_SENT_DEFAULT

    def __attrs_post_init__(self) -> None:
        check_int("fail_first", self.fail_first, minimum=0, maximum=FAIL_FIRST_LIMIT)
        object.__setattr__(self, "fail_code", check_error_code("fail_code", self.fail_code))
        if self.retry_after is not None:
            check_number("retry_after", self.retry_after, maximum=RETRY_AFTER_LIMIT)
        check_bool("healthy", self.healthy)
        check_number("latency", self.latency, maximum=LATENCY_LIMIT)
        if self.name is not None:
            check_text("name", self.name)
        if self.keep_sent is not None:
            check_int("keep_sent", self.keep_sent, minimum=0, maximum=KEEP_SENT_LIMIT)


class DummyProvider(MessageProvider):
    """A provider with no outside world: it records messages and reports success.

    It is the reference for how small a provider can be, and the in-process plugin
    the test suite and the demo send through. ``sent`` is the most recent
    ``keep_sent`` delivered messages (handy in tests), ``delivered_count``
    counts every delivery and ``send_count`` every call, failures included.
    The counters and the window are guarded by a lock so the dummy behaves the
    same when an orchestrator sends from many threads.
    """

    name = "dummy"
    settings_type = DummySettings
    # Nothing leaves the machine: the dummy joins a chain only when it is named.
    test_double = True
    # Takes whatever it is given: a plain recipient, or a contact's key.
    address_kind = None

    def __init__(self, settings: DummySettings | None = None, /, **overrides: Any) -> None:
        self.settings = settings_from_arguments(
            DummySettings, settings, overrides, owner="DummyProvider", error=ValidationError
        )
        # An explicit name lets one chain hold several dummies; otherwise the
        # class's own name stands (so subclasses keep theirs).
        if self.settings.name is not None:
            self.name = self.settings.name  # type: ignore[misc]
        self._sent: collections.deque[Message] = collections.deque(maxlen=self.settings.keep_sent)
        self.delivered_count = 0
        self._calls = itertools.count(1)
        self._lock = threading.Lock()
        self.send_count = 0

    @property  # read-only here: the settings and the class decide
    def returns_promptly(self) -> bool:  # type: ignore[override]
        """Whether a send waits for nothing: no ``latency``, and this class's own ``send``.

        A send deadline (the command line always sets one) then calls the
        dummy directly instead of on another thread. A subclass that overrides
        ``send`` (to block, say) is bounded as any provider, unless it says
        ``returns_promptly`` itself.
        """
        return self.settings.latency == 0 and type(self).send is DummyProvider.send

    def send(self, message: Message) -> DeliveryResult:
        settings = self.settings
        with self._lock:
            self.send_count = call = next(self._calls)
        if settings.latency:
            time.sleep(settings.latency)
        if call <= settings.fail_first:
            details: dict[str, Any] = {"call": call}
            if settings.retry_after is not None:
                details["retry_after"] = settings.retry_after
            return DeliveryResult.failed(
                self.name,
                settings.fail_code,
                f"simulated {settings.fail_code} (call {call} of {settings.fail_first} failing)",
                **details,
            )
        with self._lock:
            self._sent.append(message)
            self.delivered_count += 1
        # uuid.uuid4().hex's text at a third of its cost: every dry run and
        # every bench pays for it once per row (issue 15).
        return DeliveryResult.delivered(self.name, f"dummy-{new_uuid4_hex()}")

    @property
    def sent(self) -> list[Message]:
        """The delivered messages still in the window, oldest first (a copy)."""
        with self._lock:
            return list(self._sent)

    def health(self) -> ProviderHealth:
        if self.settings.healthy:
            return ProviderHealth(self.name, True, {"reason": "dummy is always ready"})
        return ProviderHealth(self.name, False, {"reason": "configured unhealthy"})

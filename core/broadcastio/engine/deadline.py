"""Bounding a call that may never return: the whole-send deadline's machinery.

A provider's ``send()`` or ``health()`` is third-party code doing network I/O;
one that hangs (a bridge that accepts the connection and never answers, a
missing socket timeout) must not hang the caller with it. Python cannot
interrupt a thread, so a bounded call runs on a worker thread while the caller
waits at most the time it has left; if the time runs out the caller goes on and
the worker is abandoned to finish (or hang) on its own. That is why a result
cut off this way is reported as ``TIMEOUT``: the call may still complete.

Workers are pooled and created on demand: a send with a deadline costs a queue
hand-off, not a thread start, and a worker stuck in a hung call never holds up
the next send, which simply gets another worker. Idle workers exit after a
minute, so an abandoned burst leaves nothing running for long.
"""

from __future__ import annotations

import contextvars
import logging
import math
import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from broadcastio.errors import ValidationError

__all__ = ["LONGEST_TIMEOUT", "BoundedCaller", "CallTimedOut", "check_timeout"]

T = TypeVar("T")

logger = logging.getLogger("broadcastio")

LONGEST_TIMEOUT = 86_400.0
"""The longest deadline accepted: a day, the same bound as the longest retry wait."""

_IDLE_SECONDS = 60.0


def check_timeout(name: str, value: Any) -> float | None:
    """A deadline in seconds: ``None`` (no deadline) or a number in (0, one day]."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= LONGEST_TIMEOUT
    ):
        raise ValidationError(
            f"{name} must be a number of seconds above 0 and at most {LONGEST_TIMEOUT:g} "
            f"(one day), or unset (None) for no deadline; got {value!r}",
            field=name,
        )
    return float(value)


class CallTimedOut(Exception):
    """The bounded call did not return in time; it goes on in the background."""


class _Call(Generic[T]):
    """One call handed to a worker, and the caller's way to wait for its outcome."""

    __slots__ = ("done", "error", "function", "result")

    def __init__(self, function: Callable[[], T]) -> None:
        self.function = function
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.function()
        except BaseException as error:  # noqa: BLE001 - handed back to the waiting caller
            self.error = error
        finally:
            self.done.set()


class BoundedCaller:
    """Runs calls on pooled worker threads and waits for each at most a given time.

    Safe to share between threads. The pool grows when every worker is busy
    (or stuck) and shrinks when workers sit idle, so it needs no size setting.
    """

    def __init__(self, *, idle_seconds: float = _IDLE_SECONDS, name: str = "broadcastio") -> None:
        self._tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._idle_seconds = idle_seconds
        self._name = name

    def call(self, function: Callable[[], T], seconds: float) -> T:
        """``function()``'s result, or ``CallTimedOut`` after ``seconds``.

        What ``function`` raises is raised here. The call runs in a copy of the
        caller's context (``contextvars``), so tracing context follows it.
        """
        pending: _Call[T] = _Call(function)
        self.start(pending.run)
        if not pending.done.wait(max(0.0, seconds)):
            raise CallTimedOut
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def start(self, task: Callable[[], None]) -> None:
        """Run ``task()`` on a worker without waiting for it (in the caller's context).

        What ``task`` raises is lost with the worker's stack: catch inside it.
        """
        context = contextvars.copy_context()
        self._submit(lambda: context.run(task))

    def _submit(self, task: Callable[[], None]) -> None:
        # The task goes in under the lock, so a worker that timed out waiting
        # and checks the queue under the same lock cannot miss it.
        with self._lock:
            self._tasks.put(task)
            if self._idle:
                self._idle -= 1
                return
        threading.Thread(target=self._work, name=f"{self._name}-call", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    try:
                        task = self._tasks.get_nowait()
                    except queue.Empty:
                        self._idle -= 1
                        return
            try:
                task()
            except Exception:  # noqa: BLE001 - a worker must survive what a task raises
                logger.debug("broadcastio: a background call raised", exc_info=True)
            with self._lock:
                self._idle += 1

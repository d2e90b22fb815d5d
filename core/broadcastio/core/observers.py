"""Calling observers (constructor callbacks and plugin hooks) without letting them interfere.

Observers are for metrics, logs and alerts; none of them may change whether or how
a message is delivered. So each one is called on its own: one that raises is
logged and ignored and the rest still run. pluggy would stop at the first
exception, which is why the implementations are called here one by one (still
honouring pluggy's opt-in arguments and call order).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from broadcastio.plugins.manager import PluginManager

__all__ = ["Listener", "ObserverSnapshot", "Observers"]

logger = logging.getLogger("broadcastio")

Listener = tuple[Callable[..., Any], tuple[str, ...], str]
"""A callable, the argument names it takes (in order), and a label for logs."""

_HOOK_ARGUMENTS = {
    "before_send": ("message",),
    "on_attempt": ("attempt", "message"),
    "on_health": ("health",),
    "after_send": ("result", "message"),
}


class ObserverSnapshot:
    """Immutable lists of listeners per event, rebuilt when plugins change."""

    __slots__ = ("after_send", "before_send", "generation", "on_attempt", "on_health")

    def __init__(
        self,
        generation: int,
        before_send: tuple[Listener, ...],
        on_attempt: tuple[Listener, ...],
        on_health: tuple[Listener, ...],
        after_send: tuple[Listener, ...],
    ) -> None:
        self.generation = generation
        self.before_send = before_send
        self.on_attempt = on_attempt
        self.on_health = on_health
        self.after_send = after_send


def notify(listeners: tuple[Listener, ...], arguments: dict[str, Any]) -> None:
    """Call every listener with the arguments it names; log and swallow what they raise."""
    for function, argnames, label in listeners:
        try:
            function(*[arguments[name] for name in argnames])
        except Exception:  # noqa: BLE001 - observers must never affect delivery
            logger.warning("broadcastio observer %s raised; ignored", label, exc_info=True)


class Observers:
    """The orchestrator's view of who wants to hear about sends."""

    def __init__(
        self,
        plugin_manager: PluginManager,
        *,
        on_attempt: Callable[..., Any] | None,
        on_success: Callable[..., Any] | None,
        on_failure: Callable[..., Any] | None,
    ) -> None:
        self.plugin_manager = plugin_manager
        self.on_success: tuple[Listener, ...] = _callback(
            on_success, "on_success", ("result", "message")
        )
        self.on_failure: tuple[Listener, ...] = _callback(
            on_failure, "on_failure", ("result", "message")
        )
        self._on_attempt_callback = _callback(on_attempt, "on_attempt", ("attempt", "message"))
        self._lock = threading.Lock()
        self._snapshot = self._build()

    def current(self) -> ObserverSnapshot:
        """The listeners as of now; cheap when no plugin was (un)registered since last time."""
        snapshot = self._snapshot
        if snapshot.generation != self.plugin_manager.generation:
            with self._lock:
                snapshot = self._snapshot
                if snapshot.generation != self.plugin_manager.generation:
                    snapshot = self._snapshot = self._build()
        return snapshot

    def _build(self) -> ObserverSnapshot:
        generation = self.plugin_manager.generation
        hooks = {name: self._hook_listeners(name) for name in _HOOK_ARGUMENTS}
        return ObserverSnapshot(
            generation,
            before_send=hooks["before_send"],
            on_attempt=self._on_attempt_callback + hooks["on_attempt"],
            on_health=hooks["on_health"],
            after_send=hooks["after_send"],
        )

    def _hook_listeners(self, hook_name: str) -> tuple[Listener, ...]:
        caller = getattr(self.plugin_manager.hook, hook_name)
        listeners: list[Listener] = []
        available = _HOOK_ARGUMENTS[hook_name]
        # get_hookimpls() is in reverse call order; pluggy calls from the end.
        for impl in reversed(caller.get_hookimpls()):
            label = f"hook {hook_name} of plugin {impl.plugin_name!r}"
            if impl.hookwrapper or impl.wrapper:
                logger.warning("%s is a wrapper; observation hooks do not support wrappers", label)
                continue
            unknown = [arg for arg in impl.argnames if arg not in available]
            if unknown:
                logger.warning("%s asks for unknown argument(s) %s; skipped", label, unknown)
                continue
            listeners.append((impl.function, tuple(impl.argnames), label))
        return tuple(listeners)


def _callback(
    function: Callable[..., Any] | None, label: str, argnames: tuple[str, ...]
) -> tuple[Listener, ...]:
    if function is None:
        return ()
    return ((function, argnames, f"callback {label}"),)

"""Calling observers (constructor callbacks and plugin hooks) without letting them interfere.

Observers are for metrics, logs and alerts; none of them may change whether or how
a message is delivered. So each one is called on its own: one that raises is
logged and ignored and the rest still run. pluggy would stop at the first
exception, which is why the implementations are called here one by one (still
honouring pluggy's opt-in arguments and call order).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from broadcastio.errors import ConfigurationError
from broadcastio.engine.relay import HookRelay

__all__ = ["Binding", "Listener", "ObserverSnapshot", "Observers", "match_arguments", "notify"]

logger = logging.getLogger("broadcastio")

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMEABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Binding:
    """How to call one observer: which event arguments go where, worked out once.

    ``positional`` lists, per positional slot, the event argument's name, or
    ``None`` and the parameter's own default (a slot that takes nothing but sits
    in front of others that do). ``keywords`` pairs a parameter with the event
    argument it receives.
    """

    __slots__ = ("function", "keywords", "positional")

    def __init__(
        self,
        function: Callable[..., Any],
        positional: Sequence[tuple[str | None, Any]] = (),
        keywords: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.function = function
        self.positional = tuple(positional)
        self.keywords = tuple(keywords)

    @classmethod
    def by_position(cls, function: Callable[..., Any], argnames: Sequence[str]) -> Binding:
        """Pass ``argnames`` in this order by position (what pluggy does with a hookimpl)."""
        return cls(function, [(name, None) for name in argnames])

    def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call the observer with the arguments it takes out of this event's ``arguments``."""
        return self.function(
            *[arguments[name] if name is not None else value for name, value in self.positional],
            **{parameter: arguments[source] for parameter, source in self.keywords},
        )


Listener = tuple[Binding, str]
"""How to call one observer, and a label for logs."""


def match_arguments(
    function: Callable[..., Any], available: Sequence[str], label: str
) -> Binding:
    """Work out how ``function`` takes an event's arguments; ``ConfigurationError`` if it cannot.

    ``available`` are the event's argument names, in the order the event passes
    them (``("attempt", "message")``). The rule, in order:

    1. a parameter named like an event argument receives that argument (pluggy's
       opt-in rule, so a callback can ask for ``message`` alone);
    2. every other positional parameter without a default receives the next
       event argument not yet given, in order (so the 0.3.0a2 style
       ``def log_attempt(attempt)`` or ``lambda a: ...`` gets the first one);
    3. ``*args`` receives every argument still left, in order; failing that,
       ``**kwargs`` receives them by name;
    4. arguments still left are simply not passed: adding an argument to an
       event later never breaks an observer.

    A parameter without a default that gets nothing by these rules (a third
    positional parameter, a keyword-only one with an unknown name) means the
    observer could never be called, which is reported now, naming it and what
    it can receive, rather than as a warning on every send. A callable whose
    signature Python cannot inspect (some builtins) gets every argument by
    position, as before.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return Binding.by_position(function, available)
    parameters = list(signature.parameters.values())
    named = {
        parameter.name
        for parameter in parameters
        if parameter.kind in _NAMEABLE and parameter.name in available
    }
    left = [name for name in available if name not in named]
    slots: list[tuple[inspect.Parameter, str | None]] = []
    keywords: list[tuple[str, str]] = []
    unfilled: list[str] = []
    extra_positional: list[str] = []
    for parameter in parameters:
        kind = parameter.kind
        if kind in _POSITIONAL:
            if parameter.name in named and kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                slots.append((parameter, parameter.name))
            elif parameter.default is inspect.Parameter.empty and left:
                slots.append((parameter, left.pop(0)))
            elif parameter.default is inspect.Parameter.empty:
                unfilled.append(parameter.name)
            else:
                slots.append((parameter, None))
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            extra_positional, left = left, []
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            if parameter.name in named:
                keywords.append((parameter.name, parameter.name))
            elif parameter.default is inspect.Parameter.empty:
                unfilled.append(parameter.name)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            keywords.extend((name, name) for name in left)
            left = []
    if unfilled:
        name = getattr(function, "__qualname__", None) or repr(function)
        raise ConfigurationError(
            f"{label} {name}{signature} cannot be called: it can receive "
            f"{', '.join(available)} (by position in that order, or by those names), "
            f"which leaves nothing for parameter(s) {', '.join(unfilled)}; "
            f"accept at most {len(available)} positional argument(s) or give "
            "the others defaults",
            details={"observer": label, "parameters": unfilled, "arguments": list(available)},
        )
    # Slots go by position up to the first one that takes nothing, unless *args
    # needs every slot before it filled (with the parameters' own defaults).
    positional: list[tuple[str | None, Any]] = []
    if extra_positional:
        positional = [
            (source, None) if source is not None else (None, parameter.default)
            for parameter, source in slots
        ]
        positional += [(name, None) for name in extra_positional]
    else:
        by_position = True
        for parameter, source in slots:
            if source is None:
                by_position = False
            elif by_position:
                positional.append((source, None))
            else:
                keywords.append((parameter.name, source))
    return Binding(function, positional, keywords)

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
    """Call every listener with the arguments it takes; log and swallow what they raise."""
    for binding, label in listeners:
        try:
            binding.call(arguments)
        except Exception:  # noqa: BLE001 - observers must never affect delivery
            logger.warning("broadcastio observer %s raised; ignored", label, exc_info=True)


class Observers:
    """The orchestrator's view of who wants to hear about sends."""

    def __init__(
        self,
        plugin_manager: HookRelay,
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
        listeners: list[Listener] = []
        available = _HOOK_ARGUMENTS[hook_name]
        # get_hookimpls() is in reverse call order; pluggy calls from the end.
        for impl in reversed(self.plugin_manager.hook_implementations(hook_name)):
            label = f"hook {hook_name} of plugin {impl.plugin_name!r}"
            if impl.hookwrapper or impl.wrapper:
                logger.warning("%s is a wrapper; observation hooks do not support wrappers", label)
                continue
            unknown = [arg for arg in impl.argnames if arg not in available]
            if unknown:
                logger.warning("%s asks for unknown argument(s) %s; skipped", label, unknown)
                continue
            listeners.append((Binding.by_position(impl.function, impl.argnames), label))
        return tuple(listeners)


def _callback(
    function: Callable[..., Any] | None, label: str, argnames: tuple[str, ...]
) -> tuple[Listener, ...]:
    """A constructor callback as a listener, taking the arguments its signature accepts."""
    if function is None:
        return ()
    return ((match_arguments(function, argnames, f"callback {label}"), f"callback {label}"),)

"""Observers: the constructor callbacks as a plugin of their own, and who hears what.

Observers are for metrics, logs and alerts; none of them may change whether or how
a message is delivered. Plugin hooks and constructor callbacks are called the
same way, by ``IsolatedHookCaller``: one that raises is logged and ignored and
the rest still run. The callbacks (``on_attempt``, ``on_success``,
``on_failure``) become implementations of the ``on_attempt`` and ``after_send``
hooks that only their orchestrator hears; what they can be offered comes from
those hooks' specs, through the relay.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

from broadcastio.engine.hook_caller import Binding, IsolatedHookCaller
from broadcastio.engine.relay import HookRelay
from broadcastio.errors import ConfigurationError

__all__ = [
    "OBSERVATION_HOOKS",
    "Binding",
    "CallbackImplementation",
    "CallbackPlugin",
    "ObserverSnapshot",
    "Observers",
    "match_arguments",
]

OBSERVATION_HOOKS: tuple[str, ...] = ("before_send", "on_attempt", "on_health", "after_send")
"""The hooks the orchestrator fires to be observed (``register_providers`` is not one)."""

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_NAMEABLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


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


class CallbackImplementation:
    """One constructor callback as a hook implementation (what pluggy's ``HookImpl`` offers)."""

    __slots__ = ("argnames", "function", "label", "tryfirst")

    plugin_name = "callbacks"
    hookwrapper = False
    wrapper = False

    def __init__(
        self, function: Callable[..., object], argnames: Sequence[str], label: str, tryfirst: bool
    ) -> None:
        self.function = function
        self.argnames = tuple(argnames)
        self.label = label
        self.tryfirst = tryfirst


class CallbackPlugin:
    """An orchestrator's constructor callbacks, as an in-process plugin only it hears.

    ``on_attempt`` implements the ``on_attempt`` hook and is called before the
    plugins' implementations; ``on_success`` and ``on_failure`` implement
    ``after_send`` for their outcome and are called after them (the order the
    docs promise). Each callback is bound by ``match_arguments`` against the
    arguments its hook's spec declares, so one that can never be called is a
    ``ConfigurationError`` now, naming it.

    It is never registered on the relay: a relay (a ``PluginManager``) may be
    shared by several orchestrators, and each must hear only its own callbacks.
    """

    def __init__(
        self,
        relay: HookRelay,
        *,
        on_attempt: Callable[..., Any] | None,
        on_success: Callable[..., Any] | None,
        on_failure: Callable[..., Any] | None,
    ) -> None:
        self._implementations: dict[str, list[CallbackImplementation]] = {}
        for hook_name, label, function, outcome in (
            ("on_attempt", "on_attempt", on_attempt, None),
            ("after_send", "on_success", on_success, True),
            ("after_send", "on_failure", on_failure, False),
        ):
            if function is None:
                continue
            argnames = tuple(relay.hook_argnames(hook_name))
            binding = match_arguments(function, argnames, f"callback {label}")
            implementation = _as_implementation(
                binding, argnames, f"callback {label}", outcome, tryfirst=outcome is None
            )
            self._implementations.setdefault(hook_name, []).append(implementation)

    def implementations(self, hook_name: str) -> tuple[CallbackImplementation, ...]:
        """The callbacks implementing ``hook_name``, in the order they are called."""
        return tuple(self._implementations.get(hook_name, ()))


def _as_implementation(
    binding: Binding, argnames: tuple[str, ...], label: str, outcome: bool | None, tryfirst: bool
) -> CallbackImplementation:
    """A callback as an implementation taking the hook's arguments by position.

    A callback that takes its arguments by position alone and fires on every
    call is its own implementation, so it costs what a plugin's does; the others
    (keywords, defaults in the way, only on success or on failure) go through
    a small adapter.
    """
    names = binding.names
    if outcome is None and names is not None:
        return CallbackImplementation(binding.function, names, label, tryfirst)

    def adapter(*values: Any) -> None:
        arguments = dict(zip(argnames, values, strict=True))
        if outcome is None or arguments["result"].success is outcome:
            binding.call(arguments)

    return CallbackImplementation(adapter, argnames, label, tryfirst)


class ObserverSnapshot:
    """Each observation hook's caller, or ``None`` when nobody listens; rebuilt when
    plugins change.

    ``None`` rather than an empty caller keeps the checks on the send path
    (``if observers.on_attempt:``) as cheap as they can be.
    """

    __slots__ = ("after_send", "before_send", "generation", "on_attempt", "on_health")

    def __init__(
        self,
        generation: int,
        before_send: IsolatedHookCaller | None,
        on_attempt: IsolatedHookCaller | None,
        on_health: IsolatedHookCaller | None,
        after_send: IsolatedHookCaller | None,
    ) -> None:
        self.generation = generation
        self.before_send = before_send
        self.on_attempt = on_attempt
        self.on_health = on_health
        self.after_send = after_send


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
        self.callbacks = CallbackPlugin(
            plugin_manager, on_attempt=on_attempt, on_success=on_success, on_failure=on_failure
        )
        self._lock = threading.Lock()
        self._snapshot = self._build()

    def current(self) -> ObserverSnapshot:
        """The callers as of now; cheap when no plugin was (un)registered since last time."""
        snapshot = self._snapshot
        if snapshot.generation != self.plugin_manager.generation:
            with self._lock:
                snapshot = self._snapshot
                if snapshot.generation != self.plugin_manager.generation:
                    snapshot = self._snapshot = self._build()
        return snapshot

    def _build(self) -> ObserverSnapshot:
        generation = self.plugin_manager.generation
        callers: dict[str, IsolatedHookCaller | None] = {}
        for hook_name in OBSERVATION_HOOKS:
            caller = IsolatedHookCaller(
                self.plugin_manager, hook_name, self.callbacks.implementations(hook_name)
            )
            callers[hook_name] = caller if caller.listeners else None
        return ObserverSnapshot(generation, **callers)

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
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from broadcastio.engine.hook_caller import Binding, IsolatedHookCaller
from broadcastio.engine.relay import HookRelay
from broadcastio.errors import ConfigurationError

logger = logging.getLogger("broadcastio")

__all__ = [
    "LISTENING_HOOK",
    "OBSERVATION_HOOKS",
    "RECHECK_SECONDS",
    "SEND_HOOKS",
    "Binding",
    "CallbackImplementation",
    "CallbackPlugin",
    "ObserverSnapshot",
    "Observers",
    "match_arguments",
]

SEND_HOOKS: tuple[str, ...] = (
    "before_send",
    "on_attempt",
    "on_skip",
    "on_wait",
    "on_health",
    "after_send",
    "on_send_error",
)
"""The observation hooks the orchestrator itself fires (each has a slot in ``ObserverSnapshot``)."""

OBSERVATION_HOOKS: tuple[str, ...] = (
    *SEND_HOOKS,
    "before_broadcast",
    "after_broadcast",
    "on_receipt",
)
"""Every hook fired to be observed (``register_providers`` is not one); the broadcast layer
fires the last three."""

LISTENING_HOOK = "broadcastio_listening"
"""The hook a plugin implements (``@hookimpl def broadcastio_listening(self) -> bool``) to say
whether it wants the send hooks now; while it answers ``False`` its implementations of the send
hooks are left out, so they cost the send path nothing.

The answer is about the plugin that gives it, so each implementation is asked on its own
(never through pluggy's hook call, whose results would be one list for all plugins). It is
asked again whenever plugins change and at most ``RECHECK_SECONDS`` after a snapshot left
such a plugin out (an OpenTelemetry SDK configured after the first send is noticed within
that time)."""

RECHECK_SECONDS = 1.0

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
    """Each send hook's caller, or ``None`` when nobody listens; rebuilt when plugins change.

    ``None`` rather than an empty caller keeps the checks on the send path
    (``if observers.on_attempt:``) as cheap as they can be. ``recheck_at`` is
    the monotonic time after which the snapshot must be rebuilt because it left
    out a plugin that was not listening (see ``LISTENING_HOOK``); ``None``
    when it left out nobody.
    """

    __slots__ = ("generation", "recheck_at", *SEND_HOOKS)

    def __init__(
        self,
        generation: int,
        recheck_at: float | None,
        callers: dict[str, IsolatedHookCaller | None],
    ) -> None:
        self.generation = generation
        self.recheck_at = recheck_at
        self.before_send = callers["before_send"]
        self.on_attempt = callers["on_attempt"]
        self.on_skip = callers["on_skip"]
        self.on_wait = callers["on_wait"]
        self.on_health = callers["on_health"]
        self.after_send = callers["after_send"]
        self.on_send_error = callers["on_send_error"]


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
        recheck_at = snapshot.recheck_at
        if snapshot.generation != self.plugin_manager.generation or (
            recheck_at is not None and time.monotonic() >= recheck_at
        ):
            with self._lock:
                if snapshot is self._snapshot:
                    self._snapshot = self._build()
                snapshot = self._snapshot
        return snapshot

    def _build(self) -> ObserverSnapshot:
        generation = self.plugin_manager.generation
        callers: dict[str, IsolatedHookCaller | None] = {}
        questions = _listening_implementations(self.plugin_manager)
        asleep: dict[str, bool] = {}
        for hook_name in SEND_HOOKS:
            caller = IsolatedHookCaller(
                self.plugin_manager, hook_name, self.callbacks.implementations(hook_name)
            )
            listeners = caller.listeners
            awake = tuple(
                listener
                for listener in listeners
                if not _asleep(listener[2], questions, asleep)
            )
            if len(awake) != len(listeners):
                caller.listeners = awake
            callers[hook_name] = caller if caller.listeners else None
        recheck_at = time.monotonic() + RECHECK_SECONDS if any(asleep.values()) else None
        return ObserverSnapshot(generation, recheck_at, callers)


def _listening_implementations(relay: HookRelay) -> dict[str, Callable[[], object]]:
    """Each plugin's ``broadcastio_listening`` implementation, by plugin name.

    A relay without the hook (a hand-made one in a test) has none: everybody listens.
    """
    try:
        implementations = relay.hook_implementations(LISTENING_HOOK)
    except (AttributeError, LookupError):
        return {}
    return {
        implementation.plugin_name: implementation.function
        for implementation in implementations
        if not (implementation.hookwrapper or implementation.wrapper)
    }


def _asleep(
    implementation: Any,
    questions: dict[str, Callable[[], object]],
    answers: dict[str, bool],
) -> bool:
    """Whether ``implementation``'s plugin says it is not listening now (asked once per build).

    Only a plugin registered on the relay can answer (an orchestrator's own
    callbacks always listen). A ``broadcastio_listening`` that raises counts as
    listening: the plugin's hooks are then called, and their own failures are
    logged as usual. Only ``False`` itself means asleep, so an implementation
    returning ``None`` by mistake does not silence its plugin.
    """
    if isinstance(implementation, CallbackImplementation):
        return False
    plugin_name = implementation.plugin_name
    question = questions.get(plugin_name)
    if question is None:
        return False
    answer = answers.get(plugin_name)
    if answer is None:
        try:
            answer = answers[plugin_name] = question() is False
        except Exception:  # noqa: BLE001 - a plugin's mistake must not stop sends
            logger.warning(
                "hook %s of plugin %r raised; treated as listening",
                LISTENING_HOOK,
                plugin_name,
                exc_info=True,
            )
            answer = answers[plugin_name] = False
    return answer

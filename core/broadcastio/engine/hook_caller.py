"""The one way broadcastio calls hook implementations: one by one, arguments from the hookspec.

pluggy's own hook call stops at the first implementation that raises, and a
plugin's mistake must not stop its neighbours: an observer must never change
whether a message is delivered, and one plugin failing to register its
providers must not hide the others'. So every hook broadcastio fires (the
observation hooks and ``register_providers`` alike) goes through
``IsolatedHookCaller``: it asks the relay for the hookspec's argument names,
binds each implementation to the ones it names (pluggy's opt-in rule, worked
out once), and calls each implementation on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from broadcastio.engine.relay import HookImplementation, HookRelay

__all__ = ["Binding", "IsolatedHookCaller", "Listener"]

logger = logging.getLogger("broadcastio")


class Binding:
    """How to call one implementation: which hook arguments go where, worked out once.

    ``positional`` lists, per positional slot, the hook argument's name, or
    ``None`` and the parameter's own default (a slot that takes nothing but sits
    in front of others that do). ``keywords`` pairs a parameter with the hook
    argument it receives.
    """

    __slots__ = ("_names", "function", "keywords", "positional")

    def __init__(
        self,
        function: Callable[..., Any],
        positional: Sequence[tuple[str | None, Any]] = (),
        keywords: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.function = function
        self.positional = tuple(positional)
        self.keywords = tuple(keywords)
        # Nearly every binding passes named arguments by position and nothing
        # else (every hook implementation does); that case is on the send path,
        # so it gets a shortcut instead of the general call below.
        self._names: tuple[str, ...] | None = None
        if not self.keywords and all(name is not None for name, _ in self.positional):
            self._names = tuple(name for name, _ in self.positional if name is not None)

    @classmethod
    def by_position(cls, function: Callable[..., Any], argnames: Sequence[str]) -> Binding:
        """Pass ``argnames`` in this order by position (what pluggy does with a hookimpl)."""
        return cls(function, [(name, None) for name in argnames])

    @property
    def names(self) -> tuple[str, ...] | None:
        """The hook arguments passed, in order, when they are passed by position alone."""
        return self._names

    def call(self, arguments: Mapping[str, Any]) -> Any:
        """Call the implementation with the arguments it takes out of ``arguments``."""
        names = self._names
        if names is not None:
            return self.function(*[arguments[name] for name in names])
        return self.function(
            *[arguments[name] if name is not None else value for name, value in self.positional],
            **{parameter: arguments[source] for parameter, source in self.keywords},
        )


Listener = tuple[Binding, str, HookImplementation]
"""One implementation ready to call: its binding, a label for log lines, the implementation."""


class IsolatedHookCaller:
    """Every implementation of one hook, bound to the hookspec's arguments, called one by one.

    Built once per set of implementations (the orchestrator rebuilds it when the
    relay's ``generation`` changes), so a call costs a loop and a dict lookup per
    argument. ``local`` are implementations that belong to the caller's owner
    alone (an orchestrator's constructor callbacks) and are not registered
    where other orchestrators would hear them; a local implementation marked
    ``tryfirst`` is called before the relay's, any other after them.

    An implementation asking for an argument the hookspec does not have, or a
    wrapper (which cannot be called in isolation), is logged and left out.
    """

    __slots__ = ("argnames", "hook_name", "listeners")

    def __init__(
        self,
        relay: HookRelay,
        hook_name: str,
        local: Sequence[HookImplementation] = (),
    ) -> None:
        self.hook_name = hook_name
        self.argnames: tuple[str, ...] = tuple(relay.hook_argnames(hook_name))
        first = [implementation for implementation in local if implementation.tryfirst]
        last = [implementation for implementation in local if not implementation.tryfirst]
        # pluggy lists implementations in reverse call order and calls from the end.
        in_order = [*first, *reversed(relay.hook_implementations(hook_name)), *last]
        listeners: list[Listener] = []
        for implementation in in_order:
            label = getattr(implementation, "label", None) or (
                f"hook {hook_name} of plugin {implementation.plugin_name!r}"
            )
            if implementation.hookwrapper or implementation.wrapper:
                logger.warning(
                    "%s is a wrapper; broadcastio calls implementations one by one "
                    "and does not support wrappers; skipped",
                    label,
                )
                continue
            unknown = [name for name in implementation.argnames if name not in self.argnames]
            if unknown:
                logger.warning(
                    "%s asks for unknown argument(s) %s (the hook has %s); skipped",
                    label,
                    unknown,
                    list(self.argnames),
                )
                continue
            binding = Binding.by_position(implementation.function, implementation.argnames)
            listeners.append((binding, label, implementation))
        self.listeners: tuple[Listener, ...] = tuple(listeners)

    def call(
        self,
        arguments: Mapping[str, Any] | Callable[[HookImplementation], Mapping[str, Any]],
        on_error: Callable[[HookImplementation, Exception], None] | None = None,
    ) -> None:
        """Call every implementation in order; what one raises does not stop the others.

        ``arguments`` maps the hookspec's argument names to this call's values,
        or is a function giving each implementation its own mapping (the
        ``register`` callable of ``register_providers`` knows which plugin
        offered what). An exception is handed to ``on_error`` with the
        implementation that raised; without ``on_error`` it is logged as one
        warning, with its traceback, and ignored.
        """
        arguments_for: Callable[[HookImplementation], Mapping[str, Any]] | None = None
        if callable(arguments):
            arguments_for, arguments = arguments, {}
        for binding, label, implementation in self.listeners:
            try:
                binding.call(arguments if arguments_for is None else arguments_for(implementation))
            except Exception as exc:  # noqa: BLE001 - one implementation must not stop the others
                if on_error is None:
                    # The wording predates registration going through here: the
                    # observation hooks are the only calls without an on_error.
                    logger.warning("broadcastio observer %s raised; ignored", label, exc_info=True)
                else:
                    on_error(implementation, exc)

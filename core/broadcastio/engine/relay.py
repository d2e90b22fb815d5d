"""``HookRelay``: what the engine needs of a plugin manager, and nothing more.

The engine fires observation hooks but must not know how plugins are found or
loaded (that is the plugins layer, above it). So it depends on this protocol:
a ``generation`` that changes whenever the set of hook implementations does,
the argument names each hook's spec declares (pluggy's ``HookSpec.argnames``:
the one list of what a hook passes, never a copy kept by hand), and the
implementations of one hook. ``broadcastio.plugins.PluginManager`` satisfies
it. Which relay an orchestrator gets when it is given none is wired by the
package root (``use_default_relay``), the one place that knows both layers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = [
    "HookImplementation",
    "HookRelay",
    "default_relay",
    "is_relay",
    "use_default_relay",
]


class HookImplementation(Protocol):
    """One plugin's implementation of one hook (what pluggy's ``HookImpl`` offers)."""

    @property
    def function(self) -> Callable[..., object]:
        """The implementation itself."""

    @property
    def argnames(self) -> tuple[str, ...]:
        """The hook arguments it takes, in order."""

    @property
    def plugin_name(self) -> str:
        """The plugin it belongs to, for log lines."""

    @property
    def hookwrapper(self) -> bool:
        """An old-style wrapper (not supported for observation hooks)."""

    @property
    def wrapper(self) -> bool:
        """A new-style wrapper (not supported for observation hooks)."""

    @property
    def tryfirst(self) -> bool:
        """Asks to be called before the others (how a local implementation says where it goes)."""


class HookRelay(Protocol):
    """Something that relays hooks: a plugin manager, as the engine sees it."""

    @property
    def generation(self) -> int:
        """Changes whenever an implementation is added or removed."""

    def hook_argnames(self, hook_name: str) -> Sequence[str]:
        """The arguments the hookspec of ``hook_name`` declares, in order."""

    def hook_implementations(self, hook_name: str) -> Sequence[HookImplementation]:
        """The implementations of ``hook_name``, in pluggy's order (called from the end)."""


def _not_wired() -> HookRelay:
    # Unreachable in practice: importing any broadcastio module runs the package
    # root first, and the root wires the plugin manager in.
    raise RuntimeError("no default hook relay: import broadcastio, which wires one in")


_default_factory: Callable[[], HookRelay] = _not_wired


def use_default_relay(factory: Callable[[], HookRelay]) -> None:
    """Make ``factory()`` the relay of every orchestrator built without one."""
    global _default_factory
    _default_factory = factory


def default_relay() -> HookRelay:
    """A new relay for an orchestrator built without one (a ``PluginManager``, once wired)."""
    return _default_factory()


def is_relay(value: Any) -> bool:
    """Whether ``value`` can relay hooks (checked when an orchestrator is built)."""
    return isinstance(getattr(value, "generation", None), int) and all(
        callable(getattr(value, method, None))
        for method in ("hook_argnames", "hook_implementations")
    )

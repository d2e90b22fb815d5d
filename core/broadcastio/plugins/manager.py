"""The broadcastio plugin manager: pluggy, plus safe entry-point loading and broken plugins."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs
import pluggy

from broadcastio.engine.hook_caller import IsolatedHookCaller
from broadcastio.plugins import hookspecs
from broadcastio.plugins.discovery import find_candidates
from broadcastio.plugins.markers import PROJECT_NAME

__all__ = ["BrokenPlugin", "PluginInfo", "PluginManager"]

logger = logging.getLogger("broadcastio")


@attrs.frozen
class BrokenPlugin:
    """A plugin that was skipped because it failed to import, register or validate."""

    name: str
    distribution: str | None
    error: str


@attrs.frozen
class PluginInfo:
    """What ``PluginManager.describe`` reports about one loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


class PluginManager(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` for the ``broadcastio`` hooks.

    Beyond pluggy it keeps a ``generation`` counter that changes whenever a plugin
    is registered or unregistered (the orchestrator uses it to refresh its cached
    list of hook implementations without asking pluggy on every send), remembers
    which distribution each entry-point plugin came from, and records
    ``broken_plugins`` instead of letting one bad plugin crash the host.

    Registering an object in-process is just ``register(obj)``: any object or
    module with ``@hookimpl`` functions works, no packaging needed.
    """

    def __init__(self) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.generation = 0
        self.broken_plugins: list[BrokenPlugin] = []
        self._distributions: dict[str, tuple[str | None, str | None]] = {}
        self._entry_points_loaded = False

    def hook_argnames(self, hook_name: str) -> tuple[str, ...]:
        """The arguments ``hook_name``'s hookspec declares (the engine's ``HookRelay`` protocol).

        What an implementation may ask for comes from here, pluggy's own
        ``HookSpec.argnames``, so a hook's arguments are written down once, in
        ``hookspecs``.
        """
        caller = getattr(self.hook, hook_name, None)
        spec = getattr(caller, "spec", None)
        if spec is None:
            raise LookupError(f"broadcastio has no hook named {hook_name!r}")
        return tuple(spec.argnames)

    def hook_implementations(self, hook_name: str) -> list[pluggy.HookImpl]:
        """The implementations of ``hook_name`` (the engine's ``HookRelay`` protocol)."""
        return list(getattr(self.hook, hook_name).get_hookimpls())

    def isolated_hook(self, hook_name: str) -> IsolatedHookCaller:
        """``hook_name``'s implementations as they are now, ready to be called one by one.

        Unlike ``self.hook.<name>(...)``, which stops at the first implementation
        that raises, the returned caller calls every implementation on its own
        and reports each failure separately; see ``IsolatedHookCaller.call``.
        """
        return IsolatedHookCaller(self, hook_name)

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        plugin_name = super().register(plugin, name)
        self.generation += 1
        return plugin_name

    def unregister(self, plugin: Any | None = None, name: str | None = None) -> Any | None:
        removed = super().unregister(plugin, name)
        self.generation += 1
        return removed

    def distribution_of(self, plugin_name: str) -> str | None:
        """The distribution an entry-point plugin came from; ``None`` for in-process plugins."""
        return self._distributions.get(plugin_name, (None, None))[0]

    def load_entry_points(self, environ: Mapping[str, str] | None = None) -> None:
        """Import and register every selected ``broadcastio`` entry point, once.

        Each plugin is loaded in isolation: an import error, a registration error
        or an implementation of a hook that does not exist (usually a misspelling)
        gets that plugin skipped, logged as a warning and recorded in
        ``broken_plugins``; the others still load.
        """
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for candidate in find_candidates(environ):
            if self.is_blocked(candidate.name):
                continue  # blocked on purpose with set_blocked(): not broken, just off
            plugin_name = candidate.name
            if self.has_plugin(plugin_name):
                # Two distributions may pick the same entry-point name. Load the
                # second under a qualified name rather than dropping it: if their
                # providers clash, collect_providers reports both distributions.
                plugin_name = f"{candidate.name}[{candidate.distribution}]"
            if self.has_plugin(plugin_name):
                self._mark_broken(
                    candidate.name,
                    candidate.distribution,
                    f"plugin name {plugin_name!r} is already registered",
                )
                continue
            try:
                plugin = candidate.entry_point.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the host
                self._mark_broken(candidate.name, candidate.distribution, _describe(exc, "import"))
                continue
            try:
                self.register(plugin, name=plugin_name)
            except Exception as exc:  # noqa: BLE001
                self._mark_broken(
                    plugin_name, candidate.distribution, _describe(exc, "registration")
                )
                continue
            self._distributions[plugin_name] = (candidate.distribution, candidate.version)
        self._drop_plugins_with_unknown_hooks()

    def _drop_plugins_with_unknown_hooks(self) -> None:
        # check_pending() raises for the first plugin implementing a hook that has
        # no spec (nearly always a misspelling, e.g. "register_provider"). Rather
        # than let that abort loading, drop each such plugin and record why.
        while True:
            try:
                self.check_pending()
            except pluggy.PluginValidationError as exc:
                self.mark_broken(exc.plugin, f"implements an unknown hook: {exc}")
            else:
                return

    def mark_broken(self, plugin: Any, error: str) -> None:
        """Unregister ``plugin`` and record why; used when a hook it implements fails to set up."""
        plugin_name = self.get_name(plugin) or repr(plugin)
        distribution = self.distribution_of(plugin_name)
        if self.is_registered(plugin):
            self.unregister(plugin)
        self._distributions.pop(plugin_name, None)
        self._mark_broken(plugin_name, distribution, error)

    def _mark_broken(self, name: str, distribution: str | None, error: str) -> None:
        logger.warning(
            "broadcastio plugin %r%s skipped: %s",
            name,
            f" (from {distribution})" if distribution else "",
            error,
        )
        self.broken_plugins.append(BrokenPlugin(name=name, distribution=distribution, error=error))

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and the hooks it implements."""
        infos = []
        for plugin_name, plugin in sorted(self.list_name_plugin(), key=lambda item: item[0]):
            if plugin is None:
                continue
            distribution, version = self._distributions.get(plugin_name, (None, None))
            hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or []))
            infos.append(
                PluginInfo(
                    name=plugin_name, distribution=distribution, version=version, hooks=hooks
                )
            )
        return infos


def _describe(exc: BaseException, stage: str) -> str:
    return f"{stage} failed: {type(exc).__name__}: {exc}"

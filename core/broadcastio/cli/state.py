"""What the global options decided, handed to every command through the click context."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import click

if TYPE_CHECKING:
    from broadcastio.config import BroadcastioConfig
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["DEFAULT_SEND_TIMEOUT", "CliState", "pass_state"]

_OPTION_FOR_ARGUMENT = {"order": "--provider"}
"""``build_orchestrator`` arguments a command fills from an option, by the option's name."""

DEFAULT_SEND_TIMEOUT = 300.0
"""Seconds a send may take from the command line when nothing else says: a cron job must end."""


@attrs.define
class CliState:
    """The global options, as the commands need them.

    ``config_path`` is ``--config`` (``None``: the usual lookup). ``verbosity``
    counts ``-v``; ``quiet`` is ``-q``. Commands read the configuration through
    ``load_config`` so that every command finds the same file the same way.
    """

    config_path: Path | None = None
    verbosity: int = 0
    quiet: bool = False

    def load_config(self) -> BroadcastioConfig:
        """The configuration by the documented lookup order (``--config`` first)."""
        # Imported here: ``broadcastio --version`` and ``--help`` read no configuration.
        from broadcastio.config import load_config

        return load_config(self.config_path)

    def build_orchestrator(self, providers: Sequence[str] = (), **overrides: Any) -> Orchestrator:
        """The configured orchestrator; ``providers`` (``--provider``) replaces the file's order.

        A command never waits for ever: without ``--timeout`` or
        ``orchestrator.timeout`` every send gets ``DEFAULT_SEND_TIMEOUT``.

        Run inside a command, the orchestrator (and so every provider it built)
        is closed when the command ends, however it ends: an error, an exit
        code or Ctrl-C. A command therefore never has to remember to close it.
        """
        from broadcastio.config import build_orchestrator
        from broadcastio.errors import ConfigurationError

        config = self.load_config()
        if overrides.get("timeout") is None:
            overrides["timeout"] = config.orchestrator.timeout or DEFAULT_SEND_TIMEOUT
        try:
            orchestrator = build_orchestrator(config, order=list(providers) or None, **overrides)
        except ConfigurationError as exc:
            option = _OPTION_FOR_ARGUMENT.get(str(exc.key_path[0])) if exc.key_path else None
            if option is None:
                raise
            # The argument came from an option: name what the user typed.
            raise exc.evolve(key_path=(option, *exc.key_path[1:])) from None
        context = click.get_current_context(silent=True)
        if context is not None:
            context.call_on_close(orchestrator.close)
        return orchestrator


pass_state = click.make_pass_decorator(CliState, ensure=True)
"""Decorator: pass the command the ``CliState`` (a default one when run on its own)."""

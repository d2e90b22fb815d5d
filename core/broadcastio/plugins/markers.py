"""The pluggy markers for the ``broadcastio`` project name."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "broadcastio"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a function in :mod:`broadcastio.plugins.hookspecs` as a hook specification."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin function as an implementation of the broadcastio hook of the same name."""

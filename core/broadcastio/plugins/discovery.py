"""Which entry points of the ``broadcastio`` group to load, decided without importing any.

Two environment variables steer discovery, read each time plugins are loaded:

* ``BROADCASTIO_LOAD_PLUGINS``: a comma-separated allow-list of entry-point or
  distribution names; set but empty means load none. Unset means load all.
* ``BROADCASTIO_DISABLE_PLUGINS``: a comma-separated deny-list by the same names.
  A disabled plugin is never imported, so it cannot break the host.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import attrs
from importlib import metadata as importlib_metadata

from broadcastio.plugins.markers import PROJECT_NAME

__all__ = ["ENTRY_POINT_GROUP", "LOAD_ENV", "DISABLE_ENV", "PluginCandidate", "find_candidates"]

ENTRY_POINT_GROUP = PROJECT_NAME
LOAD_ENV = "BROADCASTIO_LOAD_PLUGINS"
DISABLE_ENV = "BROADCASTIO_DISABLE_PLUGINS"


@attrs.frozen
class PluginCandidate:
    """An entry point that passed the environment filters and may now be imported."""

    name: str
    distribution: str | None
    version: str | None
    entry_point: importlib_metadata.EntryPoint


def _names(raw: str | None) -> set[str] | None:
    if raw is None:
        return None
    return {part.strip().lower() for part in raw.split(",") if part.strip()}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")


def find_candidates(environ: Mapping[str, str] | None = None) -> Iterator[PluginCandidate]:
    """Yield each selected entry point once, in a stable order (by name, then distribution).

    The same distribution can appear twice on ``sys.path`` (an editable install
    next to a regular one); such duplicates are yielded once.
    """
    environ = os.environ if environ is None else environ
    allowed = _names(environ.get(LOAD_ENV))
    denied = _names(environ.get(DISABLE_ENV)) or set()
    seen: set[tuple[str, str | None, str]] = set()
    entry_points = importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
    for entry_point in sorted(entry_points, key=lambda ep: (ep.name, ep.value)):
        dist = entry_point.dist
        dist_name = dist.name if dist is not None else None
        key = (entry_point.name, dist_name, entry_point.value)
        if key in seen:
            continue
        seen.add(key)
        labels = {entry_point.name.lower(), _canonical(entry_point.name)}
        if dist_name:
            labels |= {dist_name.lower(), _canonical(dist_name)}
        if allowed is not None and not labels & allowed:
            continue
        if labels & denied:
            continue
        yield PluginCandidate(
            name=entry_point.name,
            distribution=dist_name,
            version=dist.version if dist is not None else None,
            entry_point=entry_point,
        )

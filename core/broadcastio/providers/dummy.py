"""Deprecated: 0.3.0a2's ``DummyProvider``, now in the broadcastio-dummy plugin package.

Use ``from broadcastio_dummy import DummyProvider``. The class is looked up only
when it is used, so importing the core never requires the plugin.
"""

from __future__ import annotations

from typing import Any

from broadcastio._compat import load_plugin_attribute, warn_moved

# Provided lazily by __getattr__ below.
__all__ = ["DummyProvider"]  # noqa: F822

warn_moved(
    "broadcastio.providers.dummy",
    "DummyProvider is in the broadcastio-dummy package: "
    "from broadcastio_dummy import DummyProvider",
)


def __getattr__(name: str) -> Any:
    return load_plugin_attribute(
        __name__, name, "broadcastio_dummy", "broadcastio-dummy", ("DummyProvider",)
    )

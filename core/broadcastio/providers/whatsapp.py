"""Deprecated: 0.3.0a2's ``WhatsAppProvider``, now in the broadcastio-whatsapp plugin package.

Use ``from broadcastio_whatsapp import WhatsAppProvider``. The class is looked up
only when it is used, so importing the core never requires the plugin (nor
``requests``).
"""

from __future__ import annotations

from typing import Any

from broadcastio._compat import load_plugin_attribute, warn_moved

# Provided lazily by __getattr__ below.
__all__ = ["WhatsAppProvider"]  # noqa: F822

warn_moved(
    "broadcastio.providers.whatsapp",
    "WhatsAppProvider is in the broadcastio-whatsapp package: "
    "from broadcastio_whatsapp import WhatsAppProvider",
)


def __getattr__(name: str) -> Any:
    return load_plugin_attribute(
        __name__, name, "broadcastio_whatsapp", "broadcastio-whatsapp", ("WhatsAppProvider",)
    )

"""The entry point: one ``OpenTelemetryPlugin`` on the application's global providers.

broadcastio loads ``broadcastio_opentelemetry.plugin:plugin`` with the other
plugins (``Orchestrator.from_plugins``, ``from_config``, the CLI). It records
nothing until the application installs an OpenTelemetry SDK, and until then
broadcastio does not even call it. Two environment variables, read when the
plugin is first imported, set its options:

* ``BROADCASTIO_OTEL_RECIPIENT_KEY``: opt in to ``broadcastio.recipient.hash``,
  keyed with this secret (at least 16 bytes);
* ``BROADCASTIO_OTEL_BROADCAST_SENDS``: ``child`` (default) or ``link``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from broadcastio import ConfigurationError
from broadcastio_opentelemetry.instrumentation import OpenTelemetryPlugin

__all__ = ["BROADCAST_SENDS_ENV", "RECIPIENT_KEY_ENV", "from_environment", "plugin"]

RECIPIENT_KEY_ENV = "BROADCASTIO_OTEL_RECIPIENT_KEY"
BROADCAST_SENDS_ENV = "BROADCASTIO_OTEL_BROADCAST_SENDS"


def from_environment(environ: Mapping[str, str] | None = None) -> OpenTelemetryPlugin:
    """An ``OpenTelemetryPlugin`` on the global providers, its options from ``environ``.

    A bad value is a ``ConfigurationError`` naming the variable; the plugin
    loader records it as a broken plugin rather than failing the host.
    """
    environ = os.environ if environ is None else environ
    sends = environ.get(BROADCAST_SENDS_ENV, "child").strip().lower() or "child"
    if sends not in ("child", "link"):
        raise ConfigurationError(
            f"{BROADCAST_SENDS_ENV} must be 'child' or 'link', got {sends!r}",
            field=BROADCAST_SENDS_ENV,
        )
    key = environ.get(RECIPIENT_KEY_ENV) or None
    try:
        return OpenTelemetryPlugin(
            recipient_key=key,
            broadcast_sends="link" if sends == "link" else "child",
        )
    except ConfigurationError as error:
        # Same problem, named by the variable the user set (the key never shown).
        raise ConfigurationError(
            f"{RECIPIENT_KEY_ENV}: {error.problem}", field=RECIPIENT_KEY_ENV
        ) from None


plugin = from_environment()
"""The instance the ``broadcastio`` entry point names."""

"""Deprecated: the 0.3.0a2 home of broadcastio's exceptions; import them from ``broadcastio``.

0.3.0a2's ``ProviderError`` (raised for a provider's bad settings) has no class
of its own any more: a provider's bad settings are a ``ConfigurationError``,
so the old name is that class and ``except ProviderError`` still catches them.
``ErrorCode`` was importable from here too, and still is.
"""

from __future__ import annotations

from broadcastio._compat import warn_moved
from broadcastio.errors.codes import ErrorCode
from broadcastio.errors import (
    AttachmentError,
    BroadcastioError,
    ConfigurationError,
    OrchestrationError,
    ValidationError,
)

__all__ = [
    "AttachmentError",
    "BroadcastioError",
    "ConfigurationError",
    "ErrorCode",
    "OrchestrationError",
    "ProviderError",
    "ValidationError",
]

ProviderError = ConfigurationError
"""0.3.0a2's exception for a misconfigured provider; today that is a ``ConfigurationError``."""

warn_moved(
    "broadcastio.core.exceptions",
    "import BroadcastioError, ConfigurationError, OrchestrationError, AttachmentError, "
    "ValidationError and ErrorCode from broadcastio; ProviderError is now ConfigurationError",
)

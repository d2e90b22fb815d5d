"""Exceptions raised by broadcastio.

An exception always means misuse or misconfiguration: a message that can never be
delivered as written, a provider chain that cannot work, a bad setting. A delivery
that simply did not get through is *not* an exception; it comes back as a
``DeliveryResult`` with ``success=False``. Keeping the two apart lets callers
``except BroadcastioError`` around their own bugs without swallowing outages.
"""

from __future__ import annotations

from typing import Any

from broadcastio.errors.codes import ErrorCode

__all__ = [
    "AttachmentError",
    "BroadcastioError",
    "ConfigurationError",
    "OrchestrationError",
    "ValidationError",
]


class BroadcastioError(Exception):
    """Base class of every exception broadcastio raises on purpose.

    ``code`` classifies the problem with the same vocabulary delivery results use,
    and ``details`` carries whatever the caller needs to fix it (field, provider…).
    """

    default_code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.details: dict[str, Any] = dict(details or {})


class ValidationError(BroadcastioError, ValueError):
    """A value handed to broadcastio is malformed (a message, a retry policy…)."""

    default_code = ErrorCode.INVALID_MESSAGE


class AttachmentError(ValidationError):
    """An attachment cannot be read: its file is missing or is not a regular file."""

    default_code = ErrorCode.ATTACHMENT_NOT_FOUND


class OrchestrationError(BroadcastioError):
    """The provider chain cannot deliver at all (no providers, none healthy in strict mode)."""

    default_code = ErrorCode.NO_PROVIDERS


class ConfigurationError(BroadcastioError):
    """Settings or plugin set-up are wrong: unknown provider, bad field, duplicate names."""

    default_code = ErrorCode.PROVIDER_MISCONFIGURED

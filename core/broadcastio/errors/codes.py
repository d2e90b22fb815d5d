"""The error vocabulary shared by providers, results and exceptions."""

from __future__ import annotations

import enum

__all__ = ["ErrorCode"]


class ErrorCode(str, enum.Enum):
    """Why a delivery attempt failed, in terms every provider can map onto.

    Members are ``str`` subclasses whose value is their own name, so
    ``ErrorCode.TIMEOUT == "TIMEOUT"`` and ``json.dumps`` writes ``"TIMEOUT"``.
    A provider's native code (an HTTP status, an SMTP reply) belongs in the
    error's ``details``, never in a new member here.
    """

    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    """The provider could not be reached or is not ready; worth retrying."""
    TIMEOUT = "TIMEOUT"
    """No answer in time; the message may or may not have gone out."""
    RATE_LIMITED = "RATE_LIMITED"
    """The provider asked us to slow down; ``details["retry_after"]`` may say how long."""
    INVALID_MESSAGE = "INVALID_MESSAGE"
    """The provider refused the message's content or shape."""
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    """The recipient does not exist on this channel or is malformed for it."""
    AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
    """Credentials were missing or wrong; retrying cannot help."""
    PROVIDER_REJECTED = "PROVIDER_REJECTED"
    """The provider answered but refused or failed the send for another reason."""
    ATTACHMENT_NOT_FOUND = "ATTACHMENT_NOT_FOUND"
    """An attachment's file could not be read."""
    PROVIDER_MISCONFIGURED = "PROVIDER_MISCONFIGURED"
    """The provider's own settings are wrong."""
    NO_PROVIDERS = "NO_PROVIDERS"
    """There is no provider to send through."""
    NO_HEALTHY_PROVIDERS = "NO_HEALTHY_PROVIDERS"
    """Every provider reported itself not ready."""
    ALL_PROVIDERS_FAILED = "ALL_PROVIDERS_FAILED"
    """Every provider in the chain was tried and failed."""
    UNKNOWN = "UNKNOWN"
    """Anything else, including a provider that raised an unexpected exception."""

    def __str__(self) -> str:
        return self.value

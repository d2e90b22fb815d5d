"""Deprecated: the 0.3.0a2 home of ``ErrorCode``; use ``from broadcastio import ErrorCode``.

Every 0.3.0a2 member (``ATTACHMENT_NOT_FOUND``, ``NO_PROVIDERS``,
``ALL_PROVIDERS_FAILED``, ``PROVIDER_MISCONFIGURED``, ``PROVIDER_UNAVAILABLE``,
``INVALID_MESSAGE``) is a member of today's enum under the same name, and
compares equal to the same string, which is what 0.3.0a2's plain attributes were.
"""

from __future__ import annotations

from broadcastio._compat import warn_moved
from broadcastio.errors.codes import ErrorCode

__all__ = ["ErrorCode"]

warn_moved("broadcastio.core.error_codes", "use from broadcastio import ErrorCode")

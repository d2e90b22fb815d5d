"""Deprecated: the 0.3.0a2 home of ``DeliveryError``; use ``from broadcastio import DeliveryError``.

Today's ``DeliveryError`` is frozen and its ``code`` must be an ``ErrorCode``
(or its name); 0.3.0a2 accepted any string.
"""

from __future__ import annotations

from broadcastio._compat import warn_moved
from broadcastio.records.delivery_error import DeliveryError

__all__ = ["DeliveryError"]

warn_moved("broadcastio.core.errors", "use from broadcastio import DeliveryError")

"""Deprecated: the 0.3.0a2 home of ``Attachment``; use ``from broadcastio import Attachment``.

The 0.3.0a2 keywords ``host_path`` and ``provider_path`` are still accepted by
``Attachment`` itself, with their own warnings (see ``broadcastio.records.message``).
"""

from __future__ import annotations

from broadcastio._compat import warn_moved
from broadcastio.records.message import Attachment

__all__ = ["Attachment"]

warn_moved("broadcastio.core.attachment", "use from broadcastio import Attachment")

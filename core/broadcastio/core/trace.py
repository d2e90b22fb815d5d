"""Old path of ``broadcastio.records.trace``, kept so existing imports work."""

import sys

from broadcastio.records import trace as _module

sys.modules[__name__] = _module

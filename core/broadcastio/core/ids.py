"""Old path of ``broadcastio.records.ids``, kept so existing imports work."""

import sys

from broadcastio.records import ids as _module

sys.modules[__name__] = _module

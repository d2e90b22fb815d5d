"""Old path of ``broadcastio.records.result``, kept so existing imports work."""

import sys

from broadcastio.records import result as _module

sys.modules[__name__] = _module

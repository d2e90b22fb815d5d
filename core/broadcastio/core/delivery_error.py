"""Old path of ``broadcastio.records.delivery_error``, kept so existing imports work."""

import sys

from broadcastio.records import delivery_error as _module

sys.modules[__name__] = _module

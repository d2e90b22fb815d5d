"""Old path of ``broadcastio.records.serialization``, kept so existing imports work."""

import sys

from broadcastio.records import serialization as _module

sys.modules[__name__] = _module

"""Old path of ``broadcastio.records.message``, kept so existing imports work."""

import sys

from broadcastio.records import message as _module

sys.modules[__name__] = _module

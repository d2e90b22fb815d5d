"""Old path of ``broadcastio.records.retry``, kept so existing imports work."""

import sys

from broadcastio.records import retry as _module

sys.modules[__name__] = _module

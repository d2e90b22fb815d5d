"""Old path of ``broadcastio.records.rate_limit``, kept so existing imports work."""

import sys

from broadcastio.records import rate_limit as _module

sys.modules[__name__] = _module

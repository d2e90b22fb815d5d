"""Old path of ``broadcastio.records.checks``, kept so existing imports work."""

import sys

from broadcastio.records import checks as _module

sys.modules[__name__] = _module

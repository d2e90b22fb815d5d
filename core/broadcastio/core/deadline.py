"""Old path of ``broadcastio.engine.deadline``, kept so existing imports work."""

import sys

from broadcastio.engine import deadline as _module

sys.modules[__name__] = _module

"""Old path of ``broadcastio.engine.clock``, kept so existing imports work."""

import sys

from broadcastio.engine import clock as _module

sys.modules[__name__] = _module

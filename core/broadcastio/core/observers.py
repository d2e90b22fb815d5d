"""Old path of ``broadcastio.engine.observers``, kept so existing imports work."""

import sys

from broadcastio.engine import observers as _module

sys.modules[__name__] = _module

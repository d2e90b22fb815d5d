"""Old path of ``broadcastio.engine.chain``, kept so existing imports work."""

import sys

from broadcastio.engine import chain as _module

sys.modules[__name__] = _module

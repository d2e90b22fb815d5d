"""Old path of ``broadcastio.engine.orchestrator``, kept so existing imports work."""

import sys

from broadcastio.engine import orchestrator as _module

sys.modules[__name__] = _module

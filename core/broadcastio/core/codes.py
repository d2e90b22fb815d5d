"""Old path of ``broadcastio.errors.codes``, kept so existing imports work."""

import sys

from broadcastio.errors import codes as _module

sys.modules[__name__] = _module

"""Old path of ``broadcastio.broadcast.journal.errors``, kept so existing imports work.

Earlier documentation named this module for ``JournalOperation``; the journal's
modules are now one subpackage, ``broadcastio.broadcast.journal``.
"""

import sys

from broadcastio.broadcast.journal import errors as _module

sys.modules[__name__] = _module

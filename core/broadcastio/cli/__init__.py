"""The ``broadcastio`` command line: one small module per command, wired up in ``main``.

Nothing here is imported by ``import broadcastio``: the library must not pay
for click's option machinery, and the command line is just another user of the
public API. The console script is ``broadcastio.cli.main:main``.
"""

from __future__ import annotations

__all__: list[str] = []

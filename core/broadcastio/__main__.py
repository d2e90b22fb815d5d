"""``python -m broadcastio``: the ``broadcastio`` command, wherever the package is importable.

For when the console script is not on ``PATH`` (a virtual environment that is
not activated, ``pip install --user`` without ``~/.local/bin`` on ``PATH``):
the interpreter that has broadcastio installed can always run it. The command
is the same, and calls itself ``broadcastio`` in help and errors.
"""

from __future__ import annotations

import sys

__all__: list[str] = []

if __name__ == "__main__":
    # Imported here, not at the top: ``import broadcastio.__main__`` (as tools
    # that walk a package do) must not pull in the command line.
    from broadcastio.cli.main import main

    sys.exit(main())

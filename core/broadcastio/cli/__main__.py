"""``python -m broadcastio.cli``: the console script, for environments without it on PATH."""

from __future__ import annotations

import sys

from broadcastio.cli.main import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())

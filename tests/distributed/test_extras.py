"""The distributed extras stay optional: ``import broadcastio`` never imports them."""

from __future__ import annotations

import subprocess
import sys

EXTRAS = ("dramatiq", "redis", "psycopg")


def loaded_after(statement: str) -> list[str]:
    probe = (
        f"{statement}\n"
        "import sys\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {EXTRAS!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return [name for name in done.stdout.strip().split(",") if name]


def test_import_broadcastio_imports_no_extra() -> None:
    assert loaded_after("import broadcastio") == []


def test_the_distributed_package_imports_them_only_when_a_queue_is_used() -> None:
    assert loaded_after("import broadcastio.distributed, broadcastio.cli.worker") == []


def test_the_command_line_help_imports_no_extra() -> None:
    assert loaded_after(
        "from broadcastio.cli.main import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['worker', '--help'])\n"
        "    main(['broadcast', '--help'])"
    ) == []

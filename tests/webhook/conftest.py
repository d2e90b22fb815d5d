"""Fixtures: recording HTTP servers on loopback (``scripts/local_http.py``), per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# local_http (the recording server, shared with bench/) lives in scripts/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).parent))

from local_http import HttpServer  # noqa: E402
from webhook_helpers import SECRET_PATH  # noqa: E402

SCRIPT = Path(sys.executable).parent / "broadcastio"


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


@pytest.fixture
def other_server() -> Iterator[HttpServer]:
    """A second receiver, reached as ``localhost`` (another host name than ``127.0.0.1``)."""
    with HttpServer() as running:
        yield running


@pytest.fixture
def hook_url(server: HttpServer) -> str:
    return server.url + SECRET_PATH


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``broadcastio`` script in ``tmp_path``, sealed from the user's setup."""
    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} is missing: run `pip install -e .` in the project")

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("BROADCASTIO_")}
        environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
        environ["XDG_STATE_HOME"] = str(tmp_path / "state")
        environ["HOME"] = str(tmp_path / "home")
        environ.update(env or {})
        return subprocess.run(
            [str(SCRIPT), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environ,
            timeout=60,
            check=False,
        )

    return run

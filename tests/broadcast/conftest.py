"""Fixtures for the broadcast tests: a journal path or URL on each backend, node bridges."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from journal_backends import journal_postgres, journal_url  # noqa: E402, F401
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture(scope="session")
def bridge_factory() -> Iterator[Callable[..., LocalBridge]]:
    """Start node bridges (fake WhatsApp driver) on loopback; all stopped at the end."""
    started: list[LocalBridge] = []

    def start(**env: str) -> LocalBridge:
        api_key = secrets.token_hex(16)
        try:
            bridge = LocalBridge({"BRIDGE_API_KEY": api_key, "BRIDGE_LOG_LEVEL": "info", **env})
        except BridgeStartError as error:
            pytest.fail(str(error))
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()

"""The real node-bridge (fake WhatsApp driver) on loopback, for integration tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

API_KEY = "integration-secret-key-4f1c"
BASE_ENV = {
    "BRIDGE_API_KEY": API_KEY,
    # Short, so the scripted-timeout test answers 504 quickly.
    "BRIDGE_SEND_TIMEOUT_MS": "400",
    "BRIDGE_LOG_LEVEL": "info",
}


def _start(env: dict[str, str] | None = None) -> LocalBridge:
    try:
        bridge = LocalBridge({**BASE_ENV, **(env or {})})
    except BridgeStartError as error:
        pytest.fail(str(error))
    assert requests.get(f"{bridge.url}/health", timeout=5).status_code == 200
    return bridge


@pytest.fixture(scope="session")
def shared_bridge() -> Iterator[LocalBridge]:
    bridge = _start()
    yield bridge
    bridge.stop()


@pytest.fixture
def bridge(shared_bridge: LocalBridge) -> LocalBridge:
    """The session's bridge, reset to a READY fake WhatsApp with nothing sent."""
    shared_bridge.reset()
    return shared_bridge


@pytest.fixture
def start_bridge() -> Iterator[Callable[..., LocalBridge]]:
    """Start a private bridge (for tests that kill it or change its limits)."""
    started: list[LocalBridge] = []

    def start(**env: str) -> LocalBridge:
        bridge = _start(env)
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()

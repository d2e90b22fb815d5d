"""Fixtures for 0.3.0a2 code: fresh imports of the old modules, a bridge where it expects one."""

from __future__ import annotations

import errno
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))
sys.path.insert(0, str(HERE))  # seed_readme, the 0.3.0a2 README's code
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

OLD_MODULES = (
    "broadcastio.core.exceptions",
    "broadcastio.core.error_codes",
    "broadcastio.core.errors",
    "broadcastio.core.attachment",
    "broadcastio.providers.dummy",
    "broadcastio.providers.whatsapp",
)
SEED_PORT = 3000
API_KEY = "compat-seed-readme-key-9d2e"


def forget(module: str) -> None:
    """Make the next ``import module`` run the module again, as in a fresh process."""
    sys.modules.pop(module, None)
    parent, _, child = module.rpartition(".")
    if parent in sys.modules and hasattr(sys.modules[parent], child):
        delattr(sys.modules[parent], child)


@pytest.fixture(autouse=True)
def fresh_old_modules() -> Iterator[None]:
    """Each test imports the old modules as a new process would, so their warnings fire."""
    for module in OLD_MODULES:
        forget(module)
    yield
    for module in OLD_MODULES:
        forget(module)


def _port_is_free(port: int) -> bool:
    """Nothing listens on ``localhost:port`` (either address family ``localhost`` may mean)."""
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        with probe:
            # As the bridge (node) does, so connections in TIME_WAIT do not count.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    return False
    return True


@pytest.fixture
def seed_bridge() -> Iterator[LocalBridge]:
    """The real node-bridge (fake WhatsApp driver) at the seed's http://localhost:3000.

    When port 3000 is taken on this machine the bridge runs on a free port instead
    and ``bridge.url`` says where; tests then substitute that URL, and nothing
    else, in the seed's code.
    """
    env = {"BRIDGE_API_KEY": API_KEY, "BRIDGE_LOG_LEVEL": "info"}
    bridge = None
    if _port_is_free(SEED_PORT):
        try:
            bridge = LocalBridge({**env, "BRIDGE_PORT": str(SEED_PORT)})
        except BridgeStartError:
            bridge = None  # taken between the probe and the start: use any port
    if bridge is None:
        try:
            bridge = LocalBridge(env)
        except BridgeStartError as error:
            pytest.fail(str(error))
        # Shown in the run's warnings summary: the seed's URL was substituted.
        warnings.warn(
            f"localhost:{SEED_PORT} is in use here; the 0.3.0a2 examples run with their "
            f"URL replaced by {bridge.url}",
            UserWarning,
            stacklevel=1,
        )
    try:
        yield bridge
    finally:
        bridge.stop()

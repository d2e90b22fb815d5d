"""``broadcastio send --json`` through WhatsApp: the installed script, the real node-bridge.

The bridge runs its fake WhatsApp driver on loopback (scripts/local_bridge.py);
everything between the shell and the bridge is real: the console script, the
configuration file with its ``${VAR}`` secret, plugin discovery, HTTP.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

pytestmark = pytest.mark.integration

API_KEY = "cli-integration-key-7d0e"


@pytest.fixture(scope="module")
def bridge() -> Iterator[LocalBridge]:
    try:
        bridge = LocalBridge({"BRIDGE_API_KEY": API_KEY, "BRIDGE_LOG_LEVEL": "info"})
    except BridgeStartError as error:
        pytest.fail(str(error))
    yield bridge
    bridge.stop()


def test_send_through_whatsapp_with_json(bridge, run_script, write_config) -> None:
    bridge.reset()
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp", "dummy"]

        [providers.whatsapp]
        base_url = "{bridge.url}"
        api_key = "${{BRIDGE_KEY}}"
        """
    )
    result = run_script(
        "-v",
        "send",
        "--to",
        "+15551234567",
        "--text",
        "Backup finished",
        "--json",
        "--trace",
        env={"BRIDGE_KEY": API_KEY},
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["success"] is True and data["provider"] == "whatsapp"
    assert data["providers_tried"] == ["whatsapp"]
    assert data["details"]["to"] == "15551234567@c.us"
    (attempt,) = data["trace"]["attempts"]
    assert attempt["provider"] == "whatsapp" and attempt["success"] is True
    (sent,) = bridge.sent()
    assert sent["id"] == data["message_id"]
    assert sent["text"] == "Backup finished"
    assert "sending to +15551234567 through whatsapp, dummy" in result.stderr
    assert API_KEY not in result.stdout + result.stderr

"""docs/whatsapp.md's Python examples run against a real bridge, as a reader would run them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from broadcastio_whatsapp import API_KEY_ENV, BASE_URL_ENV

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "whatsapp.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_whatsapp_doc_examples_send_through_the_bridge(bridge, monkeypatch, capsys) -> None:
    # The doc tells readers to export these two variables; do exactly that.
    monkeypatch.setenv(BASE_URL_ENV, bridge.url)
    monkeypatch.setenv(API_KEY_ENV, bridge.api_key)
    blocks = FENCE.findall(DOC.read_text())
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/whatsapp.md (example {number})", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("True whatsapp ")
    assert printed[1] == "True"
    sent = bridge.sent()
    assert [m["text"] for m in sent] == ["Deploy of api v2.3 finished", "Today's sales"]
    assert sent[1]["media"]["filename"] == "sales.png"

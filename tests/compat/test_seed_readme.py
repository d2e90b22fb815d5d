"""The 0.3.0a2 README's examples and examples/minimal.py run unchanged against the real bridge.

The code is the seed's, verbatim (tests/compat/seed_readme.py, seed_minimal.py). What a 0.3.0a2
user has to do besides is what docs/migrating.md tells them: run this
release's bridge and give the provider its API key through
``BROADCASTIO_WHATSAPP_API_KEY``. The bridge listens on the seed's
``localhost:3000`` unless that port is taken here, in which case only the URL
is substituted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from broadcastio import DeliveryResult
from local_bridge import LocalBridge
from seed_minimal import MINIMAL_EXAMPLE
from seed_readme import ATTACHMENTS, ERROR_HANDLING, OBSERVABILITY, QUICK_START, SEED_URL

pytestmark = pytest.mark.integration

API_KEY_ENV = "BROADCASTIO_WHATSAPP_API_KEY"
RECIPIENT = "6281234567890"


def run(code: str, namespace: dict[str, Any], bridge: LocalBridge, label: str) -> None:
    """Execute one README example in ``namespace``, as a reader pasting it in turn would."""
    if bridge.url != SEED_URL.replace("localhost", "127.0.0.1"):
        code = code.replace(SEED_URL, bridge.url)
    exec(compile(code, f"0.3.0a2 README.md ({label})", "exec"), namespace)


@pytest.fixture
def seed_environment(
    seed_bridge: LocalBridge, monkeypatch: pytest.MonkeyPatch
) -> LocalBridge:
    monkeypatch.setenv(API_KEY_ENV, seed_bridge.api_key or "")
    monkeypatch.delenv("BROADCASTIO_WHATSAPP_BASE_URL", raising=False)
    seed_bridge.reset()
    return seed_bridge


def messages_of(caught: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]


def test_quick_start_and_observability_examples_run_unchanged(
    seed_environment: LocalBridge, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = seed_environment
    namespace: dict[str, Any] = {}

    with pytest.warns(DeprecationWarning) as caught:
        run(QUICK_START, namespace, bridge, "Quick Start")
    warned = messages_of(caught)
    assert any("broadcastio.providers.whatsapp is deprecated" in text for text in warned)
    assert any("from broadcastio_whatsapp import WhatsAppProvider" in text for text in warned)
    assert any("positional URL" in text and "base_url=" in text for text in warned)
    result = namespace["result"]
    assert isinstance(result, DeliveryResult)
    assert result.success and result.provider == "whatsapp"
    printed = capsys.readouterr().out
    assert printed.startswith("DeliveryResult(success=True, provider='whatsapp', message_id=")
    sent = bridge.sent()
    assert [(m["to"], m["text"]) for m in sent] == [(f"{RECIPIENT}@c.us", "Hello from broadcastio")]

    with pytest.warns(DeprecationWarning) as caught:
        run(ATTACHMENTS, namespace, bridge, "Attachments")
    warned = messages_of(caught)
    assert any("broadcastio.core.attachment is deprecated" in text for text in warned)
    assert any("use Attachment(path=...)" in text for text in warned)
    assert any("provider_path='/app/shared_files/report.xlsx') is ignored" in t for t in warned)

    run(ERROR_HANDLING, namespace, bridge, "Error Handling")
    assert capsys.readouterr().out == ""  # the send succeeded: nothing to report

    run(OBSERVABILITY, namespace, bridge, "Observability Hooks")
    # The README stops at building the orchestrator; its callback fires on a send.
    observed = namespace["orch"].send(
        namespace["Message"](recipient=RECIPIENT, content="observed")
    )
    assert observed.success
    assert capsys.readouterr().out == "whatsapp True\n"
    assert [m["text"] for m in bridge.sent()] == ["Hello from broadcastio", "observed"]


def test_error_handling_example_reports_a_failed_send(
    seed_environment: LocalBridge, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge = seed_environment
    bridge.unregister(RECIPIENT)
    namespace: dict[str, Any] = {}
    with pytest.warns(DeprecationWarning):
        run(QUICK_START, namespace, bridge, "Quick Start")
    result = namespace["result"]
    assert not result.success and result.provider is None
    capsys.readouterr()
    run(ERROR_HANDLING, namespace, bridge, "Error Handling")
    code, _, text = capsys.readouterr().out.rstrip("\n").partition(" ")
    assert code == "INVALID_RECIPIENT"
    assert text == result.error.message
    assert bridge.sent() == []


@pytest.mark.parametrize(
    ("state", "provider"),
    [("READY", "whatsapp"), ("QR", "dummy")],
    ids=["whatsapp-delivers", "falls-back-to-dummy-while-whatsapp-shows-a-qr"],
)
def test_minimal_example_runs_unchanged(
    state: str,
    provider: str,
    seed_environment: LocalBridge,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge = seed_environment
    bridge.set_state(state)
    monkeypatch.chdir(tmp_path)  # no stray .env for its optional load_dotenv()
    monkeypatch.setenv("BROADCASTIO_TEST_RECIPIENT", RECIPIENT)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    with pytest.warns(DeprecationWarning) as caught:
        run(MINIMAL_EXAMPLE, namespace, bridge, "examples/minimal.py")
    warned = messages_of(caught)
    assert any("broadcastio.providers.dummy is deprecated" in text for text in warned)
    assert any("broadcastio.providers.whatsapp is deprecated" in text for text in warned)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["Success: True", f"Provider: {provider}"]
    assert lines[2].startswith("Message ID: ") and len(lines) == 3
    assert namespace["result"].message_id in lines[2]
    delivered = [m["text"] for m in bridge.sent()]
    expected = ["Hello from broadcastio \N{WAVING HAND SIGN}"] if state == "READY" else []
    assert delivered == expected

"""``broadcastio journal sync`` closes every provider it builds, on each of its two build paths.

The sync builds the providers that delivered a broadcast's rows: all at once,
or, when the configuration cannot build one of them, one instance at a time.
An in-process plugin's provider records each ``close()``; the commands run
through ``CliRunner`` so the record can be read afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CLOSING_PLUGIN = """
from broadcastio import DeliveryResult, ErrorCode, MessageProvider, ProviderHealth, hookimpl

EVENTS = []


class Closing(MessageProvider):
    name = "closing"

    def send(self, message):
        if self.name == "first" and str(message.recipient).endswith("8"):
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_REJECTED, "refused")
        return DeliveryResult.delivered(self.name, f"{self.name}-1")

    def health(self):
        return ProviderHealth(self.name, True)

    def close(self):
        EVENTS.append(("close", self.name))


@hookimpl
def register_providers(register):
    register(Closing)
"""

BOTH = """
[orchestrator]
order = ["first", "second"]

[providers.first]
type = "closing"

[providers.second]
type = "closing"
"""


@pytest.fixture
def closes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_distribution: Any
) -> Callable[[], list[str]]:
    """Install the plugin; return a reader of the instances closed so far, in order."""
    root = make_distribution(
        tmp_path / "site",
        "broadcastio-closing",
        {"closing": "broadcastio_closing"},
        {"broadcastio_closing": CLOSING_PLUGIN},
    )
    monkeypatch.syspath_prepend(str(root))

    def read() -> list[str]:
        module = sys.modules.get("broadcastio_closing")
        assert isinstance(module, ModuleType), "the command never loaded the plugin"
        return [name for event, name in module.EVENTS if event == "close"]

    return read


@pytest.mark.parametrize("second_still_configured", [True, False])
def test_journal_sync_closes_every_provider_it_builds(
    invoke: Any,
    closes: Callable[[], list[str]],
    write_config: Callable[..., Path],
    tmp_path: Path,
    second_still_configured: bool,
) -> None:
    # +...67 is delivered by "first"; "first" refuses +...68, which "second" delivers.
    recipients = tmp_path / "team.csv"
    recipients.write_text("recipient\n+15551234567\n+15551234568\n")
    journal = tmp_path / "journal.sqlite"
    write_config(BOTH)
    result = invoke(
        "broadcast", "--recipients", str(recipients), "--text", "hi",
        "--journal", str(journal), "--id", "closing", "--concurrency", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    before = len(closes())
    if not second_still_configured:
        # "second" cannot be built any more: the sync falls back to one at a time.
        write_config('[orchestrator]\norder = ["first"]\n\n[providers.first]\ntype = "closing"\n')
    result = invoke("journal", "sync", "closing", "--journal", str(journal))
    assert result.exit_code == 0, result.stderr
    closed = sorted(closes()[before:])
    assert closed == (["first", "second"] if second_still_configured else ["first"])
    if not second_still_configured:
        assert "provider 'second' cannot be built" in result.stderr


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["first", "second"], ["first", "second"]),
        (["first", "gone", "second"], ["first", "second"]),
    ],
)
def test_a_chain_built_outside_a_command_closes_its_providers_when_its_block_ends(
    closes: Callable[[], list[str]],
    write_config: Callable[..., Path],
    names: list[str],
    expected: list[str],
) -> None:
    # No click context here, so nothing else closes them: the chain owns its
    # orchestrators (one, or one per instance after "gone" forced the fallback).
    from broadcastio.cli.journal_sync import build_chain
    from broadcastio.cli.state import CliState

    config = write_config(BOTH)
    chain, left_out = build_chain(CliState(config_path=config), names)
    assert sorted(left_out) == (["gone"] if "gone" in names else [])
    before = len(closes())
    with chain:
        assert [provider.name for provider in chain.providers] == expected
        assert closes()[before:] == []
    assert sorted(closes()[before:]) == expected

"""Every command closes the orchestrator it built, and so its providers, however it ends.

An in-process plugin registers a provider whose ``close()`` records that it was
called; ``TRACKED_SEND`` / ``TRACKED_READY`` script how it behaves. The
commands run through ``CliRunner`` so the record can be read afterwards.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

TRACKED_PLUGIN = """
import os

from broadcastio import (
    ConfigurationError, DeliveryResult, ErrorCode, MessageProvider, ProviderHealth, hookimpl,
)

EVENTS = []


class Tracked(MessageProvider):
    name = "tracked"

    def send(self, message):
        EVENTS.append("send")
        behaviour = os.environ.get("TRACKED_SEND", "deliver")
        if behaviour == "interrupt":
            raise KeyboardInterrupt
        if behaviour == "misconfigured":
            raise ConfigurationError("tracked: the account is suspended")
        if behaviour == "fail":
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_REJECTED, "refused")
        return DeliveryResult.delivered(self.name, "tracked-1")

    def health(self):
        EVENTS.append("health")
        return ProviderHealth(self.name, os.environ.get("TRACKED_READY", "yes") == "yes")

    def close(self):
        EVENTS.append("close")


@hookimpl
def register_providers(register):
    register(Tracked)
"""


@pytest.fixture
def tracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_distribution, write_config
) -> Callable[[], list[str]]:
    """Install the tracked provider's plugin; return a reader of what happened to it."""
    root = make_distribution(
        tmp_path / "site",
        "broadcastio-tracked",
        {"tracked": "broadcastio_tracked"},
        {"broadcastio_tracked": TRACKED_PLUGIN},
    )
    monkeypatch.syspath_prepend(str(root))
    write_config('[orchestrator]\norder = ["tracked"]\n')

    def events() -> list[str]:
        module = sys.modules.get("broadcastio_tracked")
        assert isinstance(module, ModuleType), "the command never loaded the tracked plugin"
        return list(module.EVENTS)

    return events


def assert_closed_last(events: list[str]) -> None:
    assert events.count("close") == 1, events
    assert events[-1] == "close", events


@pytest.mark.parametrize(
    ("behaviour", "exit_code"),
    [("deliver", 0), ("fail", 1), ("misconfigured", 2), ("interrupt", 130)],
)
def test_send_closes_its_providers(
    invoke, tracked, monkeypatch, behaviour: str, exit_code: int
) -> None:
    monkeypatch.setenv("TRACKED_SEND", behaviour)
    result = invoke("send", "--to", "+15551234567", "--text", "hi")
    assert result.exit_code == exit_code, result.stderr
    assert "send" in tracked()
    assert_closed_last(tracked())


def test_send_with_provider_option_closes_it(invoke, tracked) -> None:
    result = invoke("send", "--to", "+15551234567", "--text", "hi", "--provider", "tracked")
    assert result.exit_code == 0, result.stderr
    assert_closed_last(tracked())


@pytest.mark.parametrize(("ready", "exit_code"), [("yes", 0), ("no", 1)])
def test_health_closes_its_providers(
    invoke, tracked, monkeypatch, ready: str, exit_code: int
) -> None:
    monkeypatch.setenv("TRACKED_READY", ready)
    result = invoke("health")
    assert result.exit_code == exit_code, result.stderr
    assert tracked() == ["health", "close"]


def test_config_closes_the_chain_it_builds(invoke, tracked) -> None:
    result = invoke("config", "--json")
    assert result.exit_code == 0, result.stderr
    assert '"tracked"' in result.stdout
    assert tracked() == ["close"]


@pytest.fixture
def recipients(tmp_path: Path) -> Path:
    path = tmp_path / "team.csv"
    path.write_text("recipient\n+15551234567\n+15551234568\n")
    return path


@pytest.mark.parametrize(
    ("behaviour", "exit_code"),
    [("deliver", 0), ("fail", 1), ("interrupt", 130)],
)
def test_broadcast_closes_its_providers(
    invoke, tracked, monkeypatch, recipients: Path, behaviour: str, exit_code: int
) -> None:
    monkeypatch.setenv("TRACKED_SEND", behaviour)
    result = invoke(
        "broadcast", "--recipients", str(recipients), "--text", "hi", "--concurrency", "1"
    )
    assert result.exit_code == exit_code, result.stderr
    assert "send" in tracked()
    assert_closed_last(tracked())


def test_broadcast_closes_its_providers_when_the_journal_cannot_open(
    invoke, tracked, recipients: Path, tmp_path: Path
) -> None:
    not_a_journal = tmp_path / "notes.sqlite"
    not_a_journal.write_text("these are my notes, not a journal\n" * 100)
    result = invoke(
        "broadcast", "--recipients", str(recipients), "--text", "hi",
        "--journal", str(not_a_journal),
    )  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("broadcastio: error: ")
    assert tracked() == ["close"]  # built, never used, still closed

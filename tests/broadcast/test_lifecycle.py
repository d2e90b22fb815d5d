"""A broadcast uses the caller's orchestrator and leaves it open: it belongs to the caller."""

from __future__ import annotations

from pathlib import Path

from broadcastio import DeliveryResult, Message, MessageProvider, Orchestrator, ProviderHealth
from broadcastio.broadcast import broadcast, iter_broadcast


class ClosingProvider(MessageProvider):
    name = "closing"

    def __init__(self) -> None:
        self.closes = 0

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.delivered(self.name, f"id-{message.recipient}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)

    def close(self) -> None:
        self.closes += 1


def messages(count: int) -> list[Message]:
    return [Message(f"+1555123{index:04d}", "hi") for index in range(count)]


def test_broadcast_and_iter_broadcast_leave_the_orchestrator_open(tmp_path: Path) -> None:
    provider = ClosingProvider()
    with Orchestrator([provider]) as orchestrator:
        report = broadcast(orchestrator, messages(3), journal=tmp_path / "j.sqlite")
        assert report.delivered == 3
        with iter_broadcast(orchestrator, messages(2), concurrency=2) as run:
            assert len(list(run)) == 2
        assert orchestrator.broadcast(messages(2)).delivered == 2
        assert not orchestrator.closed and provider.closes == 0
        assert orchestrator.send(Message("+15551239999", "still open")).success
    assert provider.closes == 1


def test_a_closed_orchestrator_is_refused_before_any_row_is_journaled(tmp_path: Path) -> None:
    import pytest

    from broadcastio import Journal, OrchestrationError

    orchestrator = Orchestrator([ClosingProvider()])
    orchestrator.close()
    with pytest.raises(OrchestrationError, match="was closed"):
        broadcast(orchestrator, messages(5), journal=tmp_path / "j.sqlite", broadcast_id="late")
    with Journal(tmp_path / "j.sqlite") as journal:
        assert [info.broadcast_id for info in journal.broadcasts()] == []

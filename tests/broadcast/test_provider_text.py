"""Text a provider hands back that UTF-8 cannot encode never stops a send or a broadcast."""

from __future__ import annotations

from pathlib import Path

import pytest

from broadcastio import (
    DeliveryResult,
    ErrorCode,
    Journal,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
)


class HalfDecoded(MessageProvider):
    """Answers with lone surrogates, as a provider decoding bytes badly might."""

    name = "half"

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def send(self, message: Message) -> DeliveryResult:
        if self.fail:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_REJECTED, "bad \ud800 reply")
        return DeliveryResult.delivered(self.name, "id-\udfff")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


@pytest.mark.parametrize("fail", [False, True])
def test_a_journaled_broadcast_records_such_text_escaped(tmp_path: Path, fail: bool) -> None:
    messages = [Message(f"+1555000{index:04d}", "hi") for index in range(20)]
    with Journal(tmp_path / "journal.sqlite") as journal:
        report = Orchestrator([HalfDecoded(fail)]).broadcast(
            messages, journal=journal, broadcast_id="surrogates"
        )
    assert report.total == 20
    with Journal(tmp_path / "journal.sqlite", read_only=True) as journal:
        rows = list(journal.rows("surrogates"))
    assert len(rows) == 20
    if fail:
        assert {row.error_message for row in rows} == {"bad \\ud800 reply"}
    else:
        assert {row.message_id for row in rows} == {"id-\\udfff"}


def test_valid_unicode_from_a_provider_is_kept_as_it_is(message: Message) -> None:
    class Polite(HalfDecoded):
        def send(self, message: Message) -> DeliveryResult:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_REJECTED, "réessayez 🙏")

    result = Orchestrator([Polite(True)]).send(message)
    assert result.error is not None and result.error.message == "réessayez 🙏"

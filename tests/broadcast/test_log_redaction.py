"""A broadcast's log lines never carry a contact's webhook URL path (its credential)."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

from broadcastio import (
    Contact,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
)
from broadcastio.broadcast import broadcast


class DownHook(MessageProvider):
    """A per-contact webhook channel that is down."""

    name = "hooks"
    address_kind: ClassVar[str | None] = "webhook"

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, "receiver is down")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True, {})


def test_the_failure_warning_shows_the_contact_without_its_url_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    contacts = [Contact({"webhook": f"https://hooks.example.com/T/{n}/s3cr3t"}) for n in range(3)]
    with caplog.at_level(logging.DEBUG, logger="broadcastio"):
        report = broadcast(Orchestrator([DownHook()]), (Message(c, "hi") for c in contacts))

    assert report.failed == 3
    assert "PROVIDER_UNAVAILABLE" in caplog.text
    assert "https://hooks.example.com/***" in caplog.text
    assert "s3cr3t" not in caplog.text

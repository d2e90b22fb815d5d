"""The providers under concurrent sends: DummyProvider in process, WhatsApp against the bridge."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import Orchestrator
from broadcastio.broadcast import RecipientState, RecipientStatus, broadcast, iter_broadcast
from broadcastio.broadcast.journal import Journal
from broadcastio_dummy import DummyProvider
from broadcastio_whatsapp import WhatsAppProvider, idempotency_key


def test_dummy_provider_under_many_threads(journal_path: Path) -> None:
    provider = DummyProvider(fail_first=25)
    messages = make_messages(1500)
    run = iter_broadcast(Orchestrator([provider]), messages, concurrency=16, journal=journal_path)
    with run:
        outcomes = list(run)
    # Every call counted once, exactly the first 25 failed, nothing sent twice.
    assert provider.send_count == 1500
    assert run.report is not None
    assert (run.report.delivered, run.report.failed) == (1475, 25)
    assert len(provider.sent) == 1475
    assert len({message.recipient for message in provider.sent}) == 1475
    ids = [o.result.message_id for o in outcomes if o.result is not None and o.result.success]
    assert len(set(ids)) == len(ids) == 1475


@pytest.mark.integration
def test_whatsapp_provider_under_concurrent_sends(bridge_factory, journal_path: Path) -> None:
    bridge = bridge_factory()
    provider = WhatsAppProvider(base_url=bridge.url, api_key=bridge.api_key, pool_size=8)
    messages = make_messages(240)
    sent_messages = {}

    def remember(outcome):
        sent_messages[outcome.recipient] = outcome

    with provider:
        report = broadcast(
            Orchestrator([provider]),
            messages,
            concurrency=8,
            journal=journal_path,
            broadcast_id="wa-threads",
            on_result=remember,
        )
    assert report.delivered == 240 and report.complete
    on_the_wire = bridge.sent()
    per_recipient = collections.Counter(entry["to"] for entry in on_the_wire)
    assert len(per_recipient) == 240 and set(per_recipient.values()) == {1}
    # Each request carried the key derived from the broadcast's reference id,
    # and each result is the bridge's own message id for that recipient.
    by_key = {entry["idempotencyKey"]: entry for entry in on_the_wire}
    for message in messages:
        outcome = sent_messages[message.recipient]
        derived = message.__class__(
            message.recipient, message.content, metadata={"reference_id": outcome.reference_id}
        )
        entry = by_key[idempotency_key(derived)]
        assert entry["text"] == message.content
        assert outcome.status is RecipientStatus.DELIVERED
        assert outcome.result is not None and outcome.result.message_id == entry["id"]
    with Journal(journal_path) as journal:
        assert journal.summary("wa-threads")[RecipientState.DELIVERED] == 240

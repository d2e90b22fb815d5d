"""``WhatsAppProvider.fetch_receipts``: the real bridge's batch endpoint; how asking can fail.

The real bridge (fake driver) answers what WhatsApp's acks made of each
message; a scripted server plays the answers a real bridge gives only when
something is wrong (a wrong key, an old bridge, a crash, garbage).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import BroadcastioError, ErrorCode, Message, ReceiptState
from broadcastio_whatsapp import WhatsAppProvider
from broadcastio_whatsapp.receipts import RECEIPTS_BATCH, receipt_from_answer


def test_receipts_from_the_real_bridge_batched_and_unknown_ids_left_out(bridge: Any) -> None:
    with WhatsAppProvider(**bridge.settings()) as provider:
        assert provider.supports_receipts is True
        sent = [provider.send(Message(f"+1555000{n:04d}", "hi")) for n in range(3)]
        ids = [result.message_id for result in sent]
        assert all(ids)
        bridge.ack(ids[0], "SERVER")
        bridge.ack(ids[0], "DEVICE")
        bridge.ack(ids[1], "READ")
        # More ids than one request may carry: the provider splits them itself.
        asked = [*ids, *(f"never-sent-{n}" for n in range(RECEIPTS_BATCH))]
        receipts = provider.fetch_receipts(asked)
    assert set(receipts) == set(ids)
    assert receipts[ids[0]].state is ReceiptState.DEVICE
    assert receipts[ids[0]].delivered_at is not None and receipts[ids[0]].read_at is None
    assert receipts[ids[1]].state is ReceiptState.READ
    # READ implies the device: the delivered time is there even without a DEVICE ack.
    assert receipts[ids[1]].delivered_at is not None and receipts[ids[1]].read_at is not None
    assert receipts[ids[2]].state is ReceiptState.PENDING
    assert receipts[ids[2]].updated_at is not None
    assert receipts[ids[2]].updated_at.tzinfo is not None


def test_the_batches_are_at_most_the_bridges_bound(scripted_server: Any) -> None:
    for _ in range(3):
        scripted_server.script(200, {"receipts": []})
    with WhatsAppProvider(base_url=scripted_server.url, api_key="k" * 20) as provider:
        assert provider.fetch_receipts([f"id-{n}" for n in range(2 * RECEIPTS_BATCH + 1)]) == {}
    sizes = [len(request["json"]["ids"]) for request in scripted_server.requests]
    assert sizes == [RECEIPTS_BATCH, RECEIPTS_BATCH, 1]
    assert all(r["path"] == "/v1/receipts/query" for r in scripted_server.requests)
    assert scripted_server.requests[0]["headers"]["X-Api-Key"] == "k" * 20


@pytest.mark.parametrize(
    ("status", "body", "code", "words"),
    [
        (
            401,
            {"error": {"code": "UNAUTHORIZED", "message": "x"}},
            "AUTHENTICATION_FAILED",
            "API key",
        ),
        (404, {"error": {"code": "NOT_FOUND", "message": "x"}}, "PROVIDER_REJECTED", "upgrade"),
        (503, {"error": {"code": "NOT_READY", "message": "x"}}, "PROVIDER_UNAVAILABLE", "503"),
        (200, {"nothing": "here"}, "PROVIDER_REJECTED", "without receipts"),
        (200, b"<html>proxy</html>", "PROVIDER_REJECTED", "without receipts"),
    ],
)
def test_a_bridge_that_cannot_answer_is_an_error_naming_the_instance(
    scripted_server: Any, status: int, body: Any, code: str, words: str
) -> None:
    scripted_server.script(status, body)
    with WhatsAppProvider(base_url=scripted_server.url) as provider:
        provider.name = "backup-wa"  # type: ignore[misc]
        with pytest.raises(BroadcastioError) as raised:
            provider.fetch_receipts(["a"])
    assert raised.value.code == ErrorCode(code)
    assert "backup-wa" in raised.value.message and words in raised.value.message


def test_an_unreachable_or_closed_bridge_is_unavailable(closed_port_url: str) -> None:
    provider = WhatsAppProvider(base_url=closed_port_url)
    with pytest.raises(BroadcastioError) as raised:
        provider.fetch_receipts(["a"])
    assert raised.value.code is ErrorCode.PROVIDER_UNAVAILABLE
    provider.close()
    with pytest.raises(BroadcastioError) as closed:
        provider.fetch_receipts(["a"])
    assert "closed" in closed.value.message


@pytest.fixture
def closed_port_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=10), _JSON),
        "known": st.one_of(st.booleans(), _JSON),
        "ack": st.one_of(
            st.sampled_from(["PENDING", "SERVER", "DEVICE", "READ", "PLAYED", "ERROR", "NOPE"]),
            _JSON,
        ),
        "updatedAt": st.one_of(
            st.datetimes(timezones=st.just(dt.timezone.utc)).map(lambda t: t.isoformat()),
            st.text(max_size=12),
            _JSON,
        ),
        "acks": st.one_of(_JSON, st.dictionaries(st.sampled_from(["DEVICE", "READ"]), _JSON)),
    },
)


@given(entry=st.one_of(_ENTRY, _JSON))
def test_any_answer_entry_is_a_receipt_or_unknown_never_a_crash(entry: Any) -> None:
    receipt = receipt_from_answer(entry)
    if receipt is None:
        return
    assert entry["known"] is True and receipt.message_id == entry["id"]
    assert receipt.state.value == entry["ack"].lower()
    # The times a receipt holds agree with its state.
    if receipt.delivered_at is not None:
        assert receipt.state.at_least(ReceiptState.DEVICE)
    if receipt.read_at is not None:
        assert receipt.state.at_least(ReceiptState.READ)

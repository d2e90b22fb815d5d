"""End to end across the HTTP hop: a traced send through the WhatsApp provider to the real
node-bridge (fake WhatsApp driver), whose log lines for that request carry the trace id."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from local_bridge import BridgeStartError, LocalBridge

from broadcastio import Contact, Message
from broadcastio_opentelemetry import OpenTelemetryPlugin
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings
from tests.opentelemetry.conftest import Telemetry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bridge() -> Iterator[LocalBridge]:
    try:
        bridge = LocalBridge(
            {"BRIDGE_API_KEY": "otel-integration-key-7d2e", "BRIDGE_LOG_LEVEL": "info"}
        )
    except BridgeStartError as error:
        pytest.fail(str(error))
    yield bridge
    bridge.stop()


def _log_records(bridge: LocalBridge) -> list[dict[str, Any]]:
    records = []
    for line in bridge.log_lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def test_the_bridge_logs_the_trace_id_of_the_send(
    telemetry: Telemetry, bridge: LocalBridge
) -> None:
    provider = WhatsAppProvider(WhatsAppSettings(**bridge.settings()))
    with telemetry.orchestrator([provider], health_ttl=None) as orchestrator:
        result = orchestrator.send(Message("+15551234567", "traced"))
    assert result.success, result.error
    (send,) = [span for span in telemetry.spans() if span.parent is None]
    trace_id = f"{send.context.trace_id:032x}"
    span_id = f"{send.context.span_id:016x}"

    def traced() -> list[dict[str, Any]]:
        return [r for r in _log_records(bridge) if r.get("trace_id") == trace_id]

    # The log line is written when the response is sent; give the pipe a moment.
    for _ in range(100):
        if traced():
            break
        time.sleep(0.05)
    records = traced()
    assert records, bridge.output()
    assert all(record.get("parent_span_id") == span_id for record in records)
    assert [(r.get("method"), r.get("url")) for r in records if r.get("event") == "request"] == [
        ("POST", "/v1/messages")
    ]
    # The health check made during the send sends no trace context (only sends do).
    sessions = [r for r in _log_records(bridge) if r.get("url") == "/v1/session"]
    assert sessions and all("trace_id" not in record for record in sessions)


@pytest.mark.parametrize("keyed", [False, True])
def test_the_number_is_nowhere_in_spans_events_or_metrics(
    bridge: LocalBridge, keyed: bool
) -> None:
    """Through the real bridge, whose message ids hold the number (``true_<digits>@c.us_...``):
    the bare digits appear in no span, event or metric point; with a key, the id's hash."""
    key = b"bridge-test-key-0123456789"
    phone = "+15557654321"
    telemetry = Telemetry()
    try:
        provider = WhatsAppProvider(WhatsAppSettings(**bridge.settings()))
        plugin_options: dict[str, Any] = {"recipient_key": key} if keyed else {}
        with telemetry.orchestrator(
            [provider], health_ttl=None, plugin_options=plugin_options
        ) as orchestrator:
            first = orchestrator.send(Message(phone, "first"))
            second = orchestrator.send(Message(Contact({"phone": phone}), "second"))
        assert first.success and second.success, (first.error, second.error)
        assert first.message_id is not None and second.message_id is not None
        assert "15557654321" in first.message_id  # what the test guards against is real
        recorded: list[str] = []
        spans = telemetry.spans()
        for span in spans:
            recorded += [span.name, span.status.description or ""]
            recorded += [str(value) for value in dict(span.attributes or {}).values()]
            for event in span.events:
                recorded += [event.name]
                recorded += [str(value) for value in dict(event.attributes or {}).values()]
        for metric in telemetry.metrics().values():
            for point in metric.data.data_points:
                recorded += [str(value) for value in dict(point.attributes or {}).values()]
        assert len(spans) == 4 and recorded
        assert not [text for text in recorded if "15557654321" in text]
        hashes = [dict(span.attributes or {}).get("broadcastio.message.id_hash") for span in spans]
        if keyed:
            plugin = OpenTelemetryPlugin(recipient_key=key)
            expected = {plugin.message_id_hash(first.message_id),
                        plugin.message_id_hash(second.message_id)}
            assert set(hashes) == expected  # on each send span and each attempt span
        else:
            assert hashes == [None] * 4
    finally:
        telemetry.shutdown()

"""Trace context crosses the HTTP hop: the WhatsApp provider sends ``traceparent`` while a
span is current, and nothing when there is none; ``outgoing_trace_headers`` itself never
imports OpenTelemetry, and never sends ``baggage`` or ``tracestate`` to anyone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from local_http import HttpServer, Reply
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from broadcastio import Message, Orchestrator
from broadcastio.providers.trace_headers import outgoing_trace_headers
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings
from tests.opentelemetry.conftest import Telemetry, run_python

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@pytest.fixture
def bridge() -> Iterator[HttpServer]:
    """A stand-in for the bridge that records requests and accepts every send."""
    with HttpServer() as server:
        server.default = Reply(
            201,
            json.dumps({"id": "wamid.1", "to": "15551234567@c.us"}).encode(),
            {"Content-Type": "application/json"},
        )
        yield server


def _whatsapp(bridge: HttpServer) -> WhatsAppProvider:
    return WhatsAppProvider(WhatsAppSettings(base_url=bridge.url, api_key="k" * 24))


def test_the_whatsapp_provider_sends_the_send_spans_traceparent(
    telemetry: Telemetry, bridge: HttpServer
) -> None:
    orchestrator = telemetry.orchestrator([_whatsapp(bridge)], health_ttl=None)
    with orchestrator:
        result = orchestrator.send(Message("+15551234567", "hi"))
    assert result.success, result.error
    (request,) = [r for r in bridge.requests if r.method == "POST"]
    header = request.header("traceparent")
    assert header is not None
    match = TRACEPARENT.fullmatch(header)
    assert match is not None, header
    (send,) = [span for span in telemetry.spans() if span.name == "send whatsapp"
               and span.parent is None]
    # The bridge logs this trace id; the parent is the send span, current while sending.
    assert match.group(1) == f"{send.context.trace_id:032x}"
    assert match.group(2) == f"{send.context.span_id:016x}"
    assert int(match.group(3), 16) & 1  # sampled


def test_without_a_current_span_no_trace_header_is_sent(bridge: HttpServer) -> None:
    with Orchestrator([_whatsapp(bridge)], health_ttl=None) as orchestrator:
        assert orchestrator.send(Message("+15551234567", "hi")).success
    (request,) = [r for r in bridge.requests if r.method == "POST"]
    assert request.header("traceparent") is None
    assert outgoing_trace_headers() == {}


def test_outgoing_trace_headers_inside_a_span(telemetry: Telemetry) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("outer") as span:
        headers = outgoing_trace_headers()
    context = span.get_span_context()
    assert headers["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )
    assert outgoing_trace_headers() == {}


def test_outgoing_trace_headers_does_not_import_opentelemetry() -> None:
    output = run_python(
        """
        import sys
        from broadcastio.providers.trace_headers import outgoing_trace_headers
        import broadcastio_whatsapp
        print(outgoing_trace_headers(), any(m.startswith("opentelemetry") for m in sys.modules))
        """
    )
    assert output.split() == ["{}", "False"]


def test_the_telegram_provider_sends_traceparent_to_its_api_base(telemetry: Telemetry) -> None:
    from broadcastio_telegram import TelegramProvider

    token = "123456:" + "A" * 35
    with HttpServer() as api:
        api.default = Reply(
            200,
            json.dumps({"ok": True, "result": {"message_id": 7}}).encode(),
            {"Content-Type": "application/json"},
        )
        provider = TelegramProvider(token=token, api_base=api.url)
        orchestrator = telemetry.orchestrator([provider], health_ttl=None)
        with orchestrator:
            assert orchestrator.send(Message({"telegram": "12345"}, "hi")).success
            assert Orchestrator([provider], health_ttl=None).send(
                Message({"telegram": "12345"}, "untraced")
            ).success
    traced, untraced = [r for r in api.requests if r.method == "POST"]
    assert TRACEPARENT.fullmatch(traced.header("traceparent") or "")
    assert untraced.header("traceparent") is None


def _remote_parent_with_tracestate() -> trace.NonRecordingSpan:
    """A span as an inbound request would leave it: sampled, with a vendor's tracestate entry."""
    return trace.NonRecordingSpan(
        trace.SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
            trace_state=trace.TraceState([("vendor", "account-42")]),
        )
    )


def test_only_traceparent_leaves_never_baggage_or_tracestate() -> None:
    """Baggage (the application's key-values) and tracestate (vendors' entries) stay home,
    whatever propagators the application configured for its own services."""
    token = otel_context.attach(baggage.set_baggage("user.id", "alice@example.com"))
    try:
        with trace.use_span(_remote_parent_with_tracestate()):
            headers = outgoing_trace_headers()
    finally:
        otel_context.detach(token)
    assert headers == {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


@pytest.mark.parametrize("kind", ["webhook", "telegram"])
def test_third_party_endpoints_get_no_baggage_or_tracestate(
    telemetry: Telemetry, kind: str
) -> None:
    from broadcastio_telegram import TelegramProvider
    from broadcastio_webhook import WebhookProvider

    with HttpServer() as api:
        api.default = Reply(
            200,
            json.dumps({"ok": True, "result": {"message_id": 7}}).encode(),
            {"Content-Type": "application/json"},
        )
        provider = (
            WebhookProvider(url=api.url + "/hook")
            if kind == "webhook"
            else TelegramProvider(token="123456:" + "A" * 35, api_base=api.url)
        )
        token = otel_context.attach(baggage.set_baggage("tenant", "acme-secret-tenant"))
        try:
            with trace.use_span(_remote_parent_with_tracestate()):
                orchestrator = telemetry.orchestrator([provider], health_ttl=None)
                with orchestrator:
                    result = orchestrator.send(Message({"telegram": "12345"}, "hi"))
        finally:
            otel_context.detach(token)
    assert result.success, result.error
    (request,) = [r for r in api.requests if r.method == "POST"]
    match = TRACEPARENT.fullmatch(request.header("traceparent") or "")
    assert match is not None and match.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert request.header("baggage") is None
    assert request.header("tracestate") is None

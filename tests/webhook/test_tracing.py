"""Trace context crosses the HTTP hop: a ``traceparent`` header while a span is current."""

from __future__ import annotations

import re

import pytest
from local_http import HttpServer

from broadcastio import Message
from broadcastio_webhook import WebhookProvider

TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def test_a_traced_send_carries_traceparent_and_an_untraced_one_does_not(
    server: HttpServer,
) -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    tracer = sdk_trace.TracerProvider().get_tracer("tests.webhook")
    with WebhookProvider(url=server.url + "/hook", signing_secret="k" * 20) as provider:
        with tracer.start_as_current_span("send") as span:
            assert provider.send(Message("ops", "traced")).success
            trace_id = f"{span.get_span_context().trace_id:032x}"
        assert provider.send(Message("ops", "untraced")).success
    traced, untraced = server.requests
    match = TRACEPARENT.fullmatch(traced.header("traceparent") or "")
    assert match is not None and match.group(1) == trace_id
    assert traced.header("Idempotency-Key") and traced.header("Broadcastio-Signature")
    assert untraced.header("traceparent") is None

"""``outgoing_trace_headers``: W3C trace context for a provider's HTTP request, no OpenTelemetry.

A provider that calls a service over HTTP (the WhatsApp bridge, a webhook, a bot
API) should let the service join the caller's trace: it sends a ``traceparent``
header when a span is active. Providers must not depend on OpenTelemetry for
that, and a process that never imported it must not pay for it: so this looks
in ``sys.modules`` first, and only if the application (or the
broadcastio-opentelemetry plugin) already imported OpenTelemetry and a valid
span is current does it ask OpenTelemetry's configured propagator to fill in
the headers (``traceparent``, plus ``tracestate`` and ``baggage`` when there
are any).
"""

from __future__ import annotations

import sys

__all__ = ["outgoing_trace_headers"]


def outgoing_trace_headers() -> dict[str, str]:
    """Headers carrying the current trace context; ``{}`` when there is none.

    ``{}`` unless ``opentelemetry.trace`` is already imported and the current
    span has a valid context (a span that is not sampled still propagates, with
    its sampled flag off, as W3C Trace Context asks). Cheap enough to call per
    request: one dictionary lookup when OpenTelemetry is not loaded.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    if not trace.get_current_span().get_span_context().is_valid:
        return {}
    # Imported here, not above: loading the propagators reads OTEL_PROPAGATORS
    # and entry points, which only a process that traces should pay for.
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers

"""``outgoing_trace_headers``: W3C trace context for a provider's HTTP request, no OpenTelemetry.

A provider that calls a service over HTTP (the WhatsApp bridge, a webhook, a bot
API) should let the service join the caller's trace: it sends a ``traceparent``
header when a span is active. Providers must not depend on OpenTelemetry for
that, and a process that never imported it must not pay for it: so this looks
in ``sys.modules`` first, and only if the application (or the
broadcastio-opentelemetry plugin) already imported OpenTelemetry and a valid
span is current does it read that span's context.

Only ``traceparent`` is sent, written here rather than by the application's
configured propagators, because most of these requests leave the
organisation (Slack, Telegram, a customer's webhook):

* ``baggage`` carries whatever key-value pairs the application put in its
  context (user ids, tenants, feature flags), which a third party must not be
  handed just because a message went through it;
* ``tracestate`` carries the entries of every tracing vendor on the way in
  (account and sampling data), and nothing on the far side needs it to put the
  trace id on its log line, which is all ``traceparent`` is for here;
* a propagator set up for the application's own services (B3, Jaeger) would
  otherwise decide what goes to a bot API.
"""

from __future__ import annotations

import sys

__all__ = ["TRACEPARENT_HEADER", "outgoing_trace_headers"]

TRACEPARENT_HEADER = "traceparent"
"""The one header ``outgoing_trace_headers`` ever returns (W3C Trace Context)."""


def outgoing_trace_headers() -> dict[str, str]:
    """``{"traceparent": ...}`` for the current span; ``{}`` when there is none.

    ``{}`` unless ``opentelemetry.trace`` is already imported and the current
    span has a valid context (a span that is not sampled still propagates, with
    its sampled flag off, as W3C Trace Context asks). Never ``baggage`` or
    ``tracestate`` (see the module's docstring). Cheap enough to call per
    request: one dictionary lookup when OpenTelemetry is not loaded.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    # Version 00 of the format: version-trace id-parent id-flags, lower-case hex.
    flags = int(context.trace_flags) & 0xFF
    return {
        TRACEPARENT_HEADER: f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    }

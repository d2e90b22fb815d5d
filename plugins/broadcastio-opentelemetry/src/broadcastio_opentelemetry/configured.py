"""Whether the application configured OpenTelemetry: the plugin's on/off switch.

The API alone hands out proxy providers that record nothing until an SDK is
installed with ``set_tracer_provider`` / ``set_meter_provider``. Until then the
plugin tells broadcastio it is not listening, and broadcastio leaves its hooks
out of the send path altogether, which is what "costs nothing measurable" takes:
a hook that is called and returns at once still costs a send more than 10%.

The API lets each global provider be set once per process, so once a check says
"configured" it stays true. The meter's proxy class is private in the API;
it is looked up defensively, and an API without it counts as configured
(traced for sure, at some cost, rather than silently never traced).
"""

from __future__ import annotations

from opentelemetry import metrics, trace

__all__ = ["metrics_configured", "tracing_configured"]

try:  # private in the API, stable since 1.x
    from opentelemetry.metrics._internal import _ProxyMeterProvider as _PROXY_METER_PROVIDER
except ImportError:  # pragma: no cover - depends on the API's internals
    _UNCONFIGURED_METERS: tuple[type, ...] = (metrics.NoOpMeterProvider,)
else:
    _UNCONFIGURED_METERS = (_PROXY_METER_PROVIDER, metrics.NoOpMeterProvider)

_UNCONFIGURED_TRACERS: tuple[type, ...] = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)


def tracing_configured() -> bool:
    """Whether a real (SDK) tracer provider is the global one."""
    return not isinstance(trace.get_tracer_provider(), _UNCONFIGURED_TRACERS)


def metrics_configured() -> bool:
    """Whether a real (SDK) meter provider is the global one."""
    return not isinstance(metrics.get_meter_provider(), _UNCONFIGURED_METERS)

"""broadcastio-opentelemetry: OpenTelemetry traces and metrics of every broadcastio send."""

from broadcastio_opentelemetry._version import __version__
from broadcastio_opentelemetry.configured import metrics_configured, tracing_configured
from broadcastio_opentelemetry.instrumentation import (
    INSTRUMENTATION_SCOPE,
    BroadcastSends,
    OpenTelemetryPlugin,
    provider_type,
)

__all__ = [
    "INSTRUMENTATION_SCOPE",
    "BroadcastSends",
    "OpenTelemetryPlugin",
    "__version__",
    "metrics_configured",
    "provider_type",
    "tracing_configured",
]

"""Fixtures: the OpenTelemetry SDK with an in-memory span exporter and metric reader.

Each test gets its own providers, handed to an ``OpenTelemetryPlugin`` it
registers in-process: the SDK's global providers can be set only once per
process, so the tests of the global path (the installed entry point) run in a
child process of their own (``run_python``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from broadcastio import MessageProvider, Orchestrator
from broadcastio_opentelemetry import OpenTelemetryPlugin

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


class Telemetry:
    """An SDK tracer and meter provider whose output the test can read."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def plugin(self, **options: Any) -> OpenTelemetryPlugin:
        return OpenTelemetryPlugin(self.tracer_provider, self.meter_provider, **options)

    def orchestrator(
        self, providers: list[MessageProvider], *, plugin_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Orchestrator:
        orchestrator = Orchestrator(providers, **options)
        orchestrator.plugin_manager.register(self.plugin(**(plugin_options or {})))
        return orchestrator

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans() if span.name == name]

    def metrics(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = Telemetry()
    try:
        yield telemetry
    finally:
        telemetry.shutdown()


def children_of(parent: ReadableSpan, spans: list[ReadableSpan]) -> list[ReadableSpan]:
    """The spans whose parent is ``parent``, by start time."""
    found = [
        span
        for span in spans
        if span.parent is not None and span.parent.span_id == parent.context.span_id
    ]
    return sorted(found, key=lambda span: span.start_time or 0)


def run_python(source: str, env: dict[str, str] | None = None) -> str:
    """Run ``source`` in a fresh interpreter (its own global OpenTelemetry state); its stdout."""
    import os

    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout

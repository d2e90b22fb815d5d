"""The installed plugin (the entry point) on the application's global providers: without an
SDK it is loaded but never called and nothing breaks; with one, sends are traced.

Each case runs in a fresh interpreter: OpenTelemetry's global providers can be set only
once per process."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.opentelemetry.conftest import ROOT, run_python

BROADCASTIO = ROOT / ".venv" / "bin" / "broadcastio"

# Wraps the entry point's hook methods before broadcastio loads the plugin, so the
# child can count the calls broadcastio makes to it (functools.wraps keeps the
# hookimpl marker).
SPY = """
import functools
from broadcastio_opentelemetry.plugin import plugin

calls = []


def spy(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        calls.append(method.__name__)
        return method(*args, **kwargs)

    return wrapper


for name in ("before_send", "on_attempt", "after_send", "on_health"):
    setattr(plugin, name, spy(getattr(plugin, name)))
"""


def test_without_an_sdk_the_plugin_is_loaded_but_never_called() -> None:
    output = run_python(
        SPY
        + """
from broadcastio import Message, Orchestrator
from broadcastio.broadcast import broadcast

orchestrator = Orchestrator.from_plugins(["dummy"])
assert orchestrator.plugin_manager.get_plugin("opentelemetry") is plugin
assert plugin.broadcastio_listening() is False
for _ in range(50):
    assert orchestrator.send(Message("+15551234567", "hi"), trace=True).success
report = broadcast(orchestrator, [Message(f"+1555000{n:04d}", "x") for n in range(20)])
assert report.delivered == 20
print("calls", len(calls))
"""
    )
    assert output.split() == ["calls", "0"]


def test_an_sdk_installed_later_is_picked_up_when_hooks_are_bound_again() -> None:
    output = run_python(
        SPY
        + """
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from broadcastio import Message, Orchestrator

orchestrator = Orchestrator.from_plugins(["dummy"])
orchestrator.send(Message("+15551234567", "before"))
assert calls == []

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))


class Other:
    pass


# Registering any plugin rebinds the hooks at once (otherwise within a second).
orchestrator.plugin_manager.register(Other())
orchestrator.send(Message("+15551234567", "after"))
spans = exporter.get_finished_spans()
print(sorted(span.name for span in spans))
names = [m.name for rm in reader.get_metrics_data().resource_metrics
         for sm in rm.scope_metrics for m in sm.metrics]
print("messaging.client.sent.messages" in names, sorted(set(calls)))
"""
    )
    spans, rest = output.strip().splitlines()
    assert spans == "['send dummy', 'send dummy']"  # the send and its one attempt
    assert rest == "True ['after_send', 'before_send', 'on_attempt']"


def test_an_sdk_installed_first_is_used_from_the_first_send() -> None:
    output = run_python(
        """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from broadcastio import Message, Orchestrator

orchestrator = Orchestrator.from_plugins(["dummy"])
orchestrator.send(Message("+15551234567", "hi"))
print(len(exporter.get_finished_spans()))
""",
        env={"BROADCASTIO_OTEL_BROADCAST_SENDS": "link"},
    )
    assert output.split() == ["2"]


def test_a_bad_environment_setting_marks_the_plugin_broken_not_the_host() -> None:
    output = run_python(
        """
from broadcastio import Message, Orchestrator

orchestrator = Orchestrator.from_plugins(["dummy"])
assert orchestrator.send(Message("+15551234567", "hi")).success
for broken in orchestrator.plugin_manager.broken_plugins:
    print(broken.name, "|", broken.error)
""",
        env={"BROADCASTIO_OTEL_RECIPIENT_KEY": "tiny-k3y"},
    )
    assert output.startswith("opentelemetry | ")
    assert "BROADCASTIO_OTEL_RECIPIENT_KEY" in output and "16 bytes" in output
    assert "tiny-k3y" not in output  # the secret itself is never shown


def test_the_cli_sends_and_lists_the_plugin_without_an_sdk(tmp_path: Path) -> None:
    sent = subprocess.run(
        [str(BROADCASTIO), "send", "--to", "+15551234567", "--text", "hi", "--provider", "dummy"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert sent.returncode == 0, sent.stderr
    listed = subprocess.run(
        [str(BROADCASTIO), "plugins"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert "opentelemetry" in listed.stdout
    assert "broadcastio-opentelemetry" in listed.stdout

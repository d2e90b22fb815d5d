"""``OpenTelemetryPlugin``: broadcastio's hooks turned into OpenTelemetry spans and metrics.

Everything here is built from the public hooks (docs/hooks.md); nothing reaches
into the orchestrator. The shape of a trace:

* ``send {first provider}`` (kind PRODUCER): one span per ``Orchestrator.send``,
  started by ``before_send`` and made current on the sending thread, so a
  provider's HTTP request carries it as ``traceparent``; ended by
  ``after_send`` (or ``on_send_error``). Skipped providers and waits are events
  on it.
* ``send {provider}`` (kind CLIENT): one child per attempt, made when
  ``on_attempt`` reports it, with the attempt's own start and end times.
* ``broadcast`` (kind INTERNAL): one span per broadcast run, from
  ``before_broadcast`` to ``after_broadcast``, with its id and totals. The run's
  sending threads start in its context, so each send's span is its child; with
  ``broadcast_sends="link"`` each send is instead the root of its own trace,
  linked to the broadcast (a million-row broadcast as one trace is more than
  most tracing backends will display).
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from broadcastio import (
    ConfigurationError,
    DeliveryAttempt,
    DeliveryResult,
    Message,
    MessageProvider,
    ProviderHealth,
    hookimpl,
)
from broadcastio_opentelemetry import names
from broadcastio_opentelemetry._version import __version__
from broadcastio_opentelemetry.configured import metrics_configured, tracing_configured
from broadcastio_opentelemetry.keyed_hashes import RecipientKey

__all__ = ["BroadcastSends", "INSTRUMENTATION_SCOPE", "OpenTelemetryPlugin"]

INSTRUMENTATION_SCOPE = "broadcastio_opentelemetry"
"""The name of the tracer and meter this plugin uses."""

BroadcastSends = Literal["child", "link"]

_SEND_KEY = otel_context.create_key("broadcastio.send")
_BROADCAST_KEY = otel_context.create_key("broadcastio.broadcast")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MICROSECOND = _dt.timedelta(microseconds=1)
# Orchestrators are few; a process building many (tests) must not keep every chain.
_MAX_CHAINS = 64


class _Chain:
    """What a send span needs to know about one orchestrator's chain, worked out once."""

    __slots__ = ("address_ids", "attributes", "span_name", "types")

    def __init__(self, providers: Sequence[MessageProvider]) -> None:
        self.types = {provider.name: provider_type(provider) for provider in providers}
        # The instances whose message ids would put the recipient's address in a span.
        self.address_ids = frozenset(
            provider.name
            for provider in providers
            if getattr(provider, "message_ids_contain_address", False)
        )
        first = providers[0] if providers else None
        self.span_name = "send" if first is None else f"send {first.name}"
        self.attributes: dict[str, Any] = {
            names.OPERATION_NAME: "send",
            names.OPERATION_TYPE: "send",
            names.CHAIN: tuple(self.types),
        }
        if first is not None:
            self.attributes[names.SYSTEM] = provider_type(first)


class _Send:
    """One send under way: its span and the token to restore the context with."""

    __slots__ = ("chain", "span", "token")

    def __init__(self, span: Span, chain: _Chain) -> None:
        self.span = span
        self.chain = chain
        self.token: object | None = None


class _Instruments:
    """The tracer and metric instruments, made on first use (see ``OpenTelemetryPlugin``)."""

    def __init__(self, tracer: Tracer, meter: Meter, health: dict[str, bool]) -> None:
        self.tracer = tracer
        self.sent = meter.create_counter(
            names.METRIC_SENT_MESSAGES,
            unit="{message}",
            description="Messages broadcastio attempted to send through a provider.",
        )
        self.duration = meter.create_histogram(
            names.METRIC_OPERATION_DURATION,
            unit="s",
            description="Duration of one attempt to send a message through a provider.",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )
        self.wait = meter.create_histogram(
            names.METRIC_WAIT_DURATION,
            unit="s",
            description="Time a send waited before an attempt: rate-limit slots and retry "
            "back-off.",
            explicit_bucket_boundaries_advisory=names.DURATION_BUCKETS,
        )
        self._health = health
        meter.create_observable_gauge(
            names.METRIC_HEALTH,
            callbacks=[self._observe_health],
            unit="1",
            description="Provider health as last checked: 1 ready, 0 not ready.",
        )

    def _observe_health(self, options: CallbackOptions) -> Iterable[Observation]:
        for provider, ready in list(self._health.items()):
            yield Observation(1 if ready else 0, {names.PROVIDER: provider})


def provider_type(provider: MessageProvider) -> str:
    """A provider's type: the class's ``name`` (an instance's own ``name`` may be renamed)."""
    kind = getattr(type(provider), "name", None)
    return kind if isinstance(kind, str) else provider.name


class OpenTelemetryPlugin:
    """broadcastio hook implementations that report sends as OpenTelemetry spans and metrics.

    Installed, the package registers one instance (``broadcastio_opentelemetry.plugin``)
    that uses the application's global providers. Register your own instance
    (``orchestrator.plugin_manager.register(OpenTelemetryPlugin(...))``) to pass
    ``tracer_provider`` / ``meter_provider`` explicitly (tests do).

    ``recipient_key`` opts in to recording who a message went to, as
    ``broadcastio.recipient.hash``: an HMAC-SHA256 of the recipient under that
    key (bytes or text, at least 16 bytes), never the address itself. Keyed
    rather than a plain hash because phone numbers are few enough to be
    reversed from an unkeyed one by trying them all; the same key gives the same
    value in every process, so one person's sends can still be found together.

    Two other values reveal the recipient to anyone who can try every phone
    number, so they are recorded only under the same key, as HMACs: the
    message's ``metadata.reference_id`` (a broadcast derives it, unkeyed, from
    the broadcast id, which its span carries, and the recipient) as
    ``broadcastio.message.reference_id_hash``; and the message id of a provider
    that declares ``message_ids_contain_address`` (WhatsApp's ids hold the
    number) as ``broadcastio.message.id_hash`` instead of
    ``messaging.message.id``. Without the key neither is recorded.

    ``broadcast_sends`` is ``"child"`` (each send of a broadcast is a child of
    its ``broadcast`` span) or ``"link"`` (each send starts its own trace, linked
    to the broadcast span).

    While neither an explicit provider was given nor an SDK is installed
    globally, ``broadcastio_listening()`` answers ``False`` and broadcastio does
    not call the send hooks at all.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        *,
        recipient_key: bytes | str | None = None,
        broadcast_sends: BroadcastSends = "child",
    ) -> None:
        if broadcast_sends not in ("child", "link"):
            raise ConfigurationError(
                f"broadcast_sends must be 'child' or 'link', got {broadcast_sends!r}",
                field="broadcast_sends",
            )
        self._key = None if recipient_key is None else RecipientKey(recipient_key)
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._link_sends = broadcast_sends == "link"
        self._explicit = tracer_provider is not None or meter_provider is not None
        self._configured = False
        self._instruments: _Instruments | None = None
        self._lock = threading.Lock()
        self._chains: dict[tuple[MessageProvider, ...], _Chain] = {}
        self._health: dict[str, bool] = {}
        self._broadcasts: dict[tuple[str, int], tuple[Span, object]] = {}
        self._metric_attributes: dict[tuple[str, str, str | None], dict[str, Any]] = {}

    def __repr__(self) -> str:
        mode = "link" if self._link_sends else "child"
        return f"OpenTelemetryPlugin(broadcast_sends={mode!r}, listening={self._configured})"

    # -- the switch ----------------------------------------------------------------------

    @hookimpl
    def broadcastio_listening(self) -> bool:
        """Whether to be called at all: explicit providers, or an SDK installed globally.

        broadcastio asks this hook when it binds the send hooks (and again
        within a second while the answer is no); once yes, it stays yes, as
        OpenTelemetry's global providers can be set only once.
        """
        if self._explicit or self._configured:
            return True
        if tracing_configured() or metrics_configured():
            self._configured = True
        return self._configured

    def _get_instruments(self) -> _Instruments:
        instruments = self._instruments
        if instruments is None:
            with self._lock:
                instruments = self._instruments
                if instruments is None:
                    tracer_provider = self._tracer_provider or trace.get_tracer_provider()
                    meter_provider = self._meter_provider or metrics.get_meter_provider()
                    instruments = self._instruments = _Instruments(
                        tracer_provider.get_tracer(INSTRUMENTATION_SCOPE, __version__),
                        meter_provider.get_meter(INSTRUMENTATION_SCOPE, __version__),
                        self._health,
                    )
        return instruments

    def _chain(self, providers: tuple[MessageProvider, ...]) -> _Chain:
        chain = self._chains.get(providers)
        if chain is None:
            if len(self._chains) >= _MAX_CHAINS:
                self._chains.clear()
            chain = self._chains[providers] = _Chain(providers)
        return chain

    # -- sends ---------------------------------------------------------------------------

    @hookimpl
    def before_send(self, message: Message, providers: tuple[MessageProvider, ...]) -> None:
        """Start the send's span and make it current on this thread."""
        tracer = self._get_instruments().tracer
        chain = self._chain(providers)
        attributes = dict(chain.attributes)
        key = self._key
        if key is not None:
            attributes[names.RECIPIENT_HASH] = key.recipient_hash(message.recipient)
            attributes[names.REFERENCE_ID_HASH] = key.reference_id_hash(
                message.metadata.reference_id
            )
        parent = None
        links = None
        if self._link_sends:
            broadcast = otel_context.get_value(_BROADCAST_KEY)
            if isinstance(broadcast, Span):
                parent = otel_context.Context()  # a new trace...
                links = [Link(broadcast.get_span_context())]  # ...that points at the broadcast
        span = tracer.start_span(
            chain.span_name,
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            links=links,
        )
        send = _Send(span, chain)
        current = otel_context.set_value(_SEND_KEY, send, trace.set_span_in_context(span))
        send.token = otel_context.attach(current)

    @hookimpl
    def on_attempt(self, attempt: DeliveryAttempt) -> None:
        """One child span with the attempt's real times, and the two messaging metrics."""
        instruments = self._get_instruments()
        send = otel_context.get_value(_SEND_KEY)
        name = attempt.provider
        kind = send.chain.types.get(name, name) if isinstance(send, _Send) else name
        error = attempt.error
        code = None if error is None else error.code.value
        attributes = self._attributes_for(name, kind, code)
        if isinstance(send, _Send):
            start = _nanoseconds(attempt.started_at)
            span = instruments.tracer.start_span(
                f"send {name}",
                kind=SpanKind.CLIENT,
                attributes=attributes,
                start_time=start,
            )
            span.set_attribute(names.ATTEMPT, attempt.attempt)
            if attempt.success and attempt.message_id is not None:
                self._set_message_id(span, send.chain, name, attempt.message_id)
            if code is not None:
                # The code, not the error's text: the text may name the recipient.
                span.set_status(Status(StatusCode.ERROR, code))
            span.end(end_time=start + int(attempt.duration_ms * 1_000_000))
        if error is not None and error.details.get("paused"):
            # Held back by the orchestrator while the provider is paused: never sent.
            return
        instruments.sent.add(1, attributes)
        instruments.duration.record(attempt.duration_ms / 1000.0, attributes)

    @hookimpl
    def on_skip(self, health: ProviderHealth) -> None:
        """An event on the send's span: which provider was passed over, and why."""
        send = otel_context.get_value(_SEND_KEY)
        if isinstance(send, _Send):
            send.span.add_event(
                names.SKIP_EVENT,
                {names.PROVIDER: health.provider, names.SKIP_REASON: _reason(health)},
            )

    @hookimpl
    def on_wait(self, provider: str, seconds: float, reason: str) -> None:
        """An event on the send's span and a point on the wait histogram."""
        instruments = self._get_instruments()
        send = otel_context.get_value(_SEND_KEY)
        kind = provider
        if isinstance(send, _Send):
            kind = send.chain.types.get(provider, provider)
            send.span.add_event(
                names.WAIT_EVENT,
                {names.PROVIDER: provider, names.WAIT_REASON: reason, names.WAIT_SECONDS: seconds},
            )
        instruments.wait.record(
            seconds, {names.PROVIDER: provider, names.SYSTEM: kind, names.WAIT_REASON: reason}
        )

    @hookimpl
    def on_health(self, health: ProviderHealth) -> None:
        """Remember the provider's state for the health gauge."""
        self._get_instruments()  # the gauge exists from the first report on
        self._health[health.provider] = bool(health.ready)

    @hookimpl
    def after_send(self, result: DeliveryResult) -> None:
        """Finish the send's span with its outcome and restore the context."""
        send = otel_context.get_value(_SEND_KEY)
        if not isinstance(send, _Send):
            return
        span = send.span
        span.set_attribute(names.PROVIDERS_TRIED, result.providers_tried)
        if result.success:
            if result.provider is not None:
                span.set_attribute(names.PROVIDER, result.provider)
            if result.message_id is not None and result.provider is not None:
                self._set_message_id(span, send.chain, result.provider, result.message_id)
        elif result.error is not None:
            code = result.error.code.value
            span.set_attribute(names.ERROR_TYPE, code)
            span.set_status(Status(StatusCode.ERROR, code))
        self._finish(send)

    @hookimpl
    def on_send_error(self, error: BaseException) -> None:
        """Finish the send's span as failed with the exception's type, and restore the context."""
        send = otel_context.get_value(_SEND_KEY)
        if not isinstance(send, _Send):
            return
        kind = type(error)
        error_type = f"{kind.__module__}.{kind.__qualname__}"
        send.span.set_attribute(names.ERROR_TYPE, error_type)
        send.span.set_status(Status(StatusCode.ERROR, error_type))
        self._finish(send)

    def _finish(self, send: _Send) -> None:
        send.span.end()
        token = send.token
        if token is not None:
            send.token = None
            otel_context.detach(token)  # type: ignore[arg-type]

    # -- broadcasts ----------------------------------------------------------------------

    @hookimpl
    def before_broadcast(self, broadcast_id: str, run: int, concurrency: int) -> None:
        """Start the broadcast's span; its sending threads start in the context set here."""
        if not self.broadcastio_listening():
            return
        span = self._get_instruments().tracer.start_span(
            names.BROADCAST_SPAN,
            kind=SpanKind.INTERNAL,
            attributes={
                names.BROADCAST_ID: broadcast_id,
                names.BROADCAST_RUN: run,
                names.BROADCAST_CONCURRENCY: concurrency,
            },
        )
        current = otel_context.set_value(_BROADCAST_KEY, span)
        if not self._link_sends:
            current = trace.set_span_in_context(span, current)
        token = otel_context.attach(current)
        with self._lock:
            self._broadcasts[(broadcast_id, run)] = (span, token)

    @hookimpl
    def after_broadcast(self, report: Any) -> None:
        """Put the run's totals on its span, end it, restore the context."""
        with self._lock:
            started = self._broadcasts.pop((report.broadcast_id, report.run), None)
        if started is None:
            return
        span, token = started
        span.set_attributes(
            {
                names.BROADCAST_TOTAL: report.total,
                names.BROADCAST_DELIVERED: report.delivered,
                names.BROADCAST_FAILED: report.failed,
                names.BROADCAST_AMBIGUOUS: report.ambiguous,
                names.BROADCAST_NOT_SENT: report.skipped,
                names.BROADCAST_INTERRUPTED: report.interrupted,
            }
        )
        span.end()
        otel_context.detach(token)  # type: ignore[arg-type]

    # -- helpers -------------------------------------------------------------------------

    def recipient_hash(self, message: Message) -> str:
        """The value of ``broadcastio.recipient.hash`` for ``message`` (needs ``recipient_key``).

        HMAC-SHA256 under the key of the recipient's identity (a plain address,
        or a contact's id or addresses), first 128 bits in hex.
        """
        return self._require_key("recipient_hash").recipient_hash(message.recipient)

    def reference_id_hash(self, reference_id: str) -> str:
        """The value of ``broadcastio.message.reference_id_hash`` (needs ``recipient_key``).

        HMAC-SHA256 under the key of ``reference_id``, labelled so it never
        equals another attribute's hash, first 128 bits in hex.
        """
        return self._require_key("reference_id_hash").reference_id_hash(reference_id)

    def message_id_hash(self, message_id: str) -> str:
        """The value of ``broadcastio.message.id_hash`` for ``message_id`` (needs the key).

        Recorded in place of ``messaging.message.id`` for providers whose ids
        contain the recipient's address; compute it from an id (a journal's, the
        bridge's) to find that message's spans.
        """
        return self._require_key("message_id_hash").message_id_hash(message_id)

    def _require_key(self, what: str) -> RecipientKey:
        if self._key is None:
            raise ConfigurationError(
                f"{what} needs the plugin to be built with recipient_key",
                field="recipient_key",
            )
        return self._key

    def _set_message_id(self, span: Span, chain: _Chain, provider: str, message_id: str) -> None:
        """``messaging.message.id``, unless the provider's ids contain the recipient's address.

        Those are recorded only as a keyed hash, and only when the user opted in.
        """
        if provider not in chain.address_ids:
            span.set_attribute(names.MESSAGE_ID, message_id)
        elif self._key is not None:
            span.set_attribute(names.MESSAGE_ID_HASH, self._key.message_id_hash(message_id))

    def _attributes_for(self, provider: str, kind: str, code: str | None) -> dict[str, Any]:
        key = (provider, kind, code)
        attributes = self._metric_attributes.get(key)
        if attributes is None:
            attributes = {
                names.SYSTEM: kind,
                names.OPERATION_NAME: "send",
                names.OPERATION_TYPE: "send",
                names.PROVIDER: provider,
            }
            if code is not None:
                attributes[names.ERROR_TYPE] = code
            self._metric_attributes[key] = attributes
        return attributes


def _nanoseconds(moment: _dt.datetime) -> int:
    """``moment`` as nanoseconds since the epoch, exactly (no float rounding)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return (moment - _EPOCH) // _MICROSECOND * 1000


def _reason(health: ProviderHealth) -> str:
    details = health.details
    for key in ("reason", "error", "state"):
        if key in details:
            return str(details[key])
    return "not ready"

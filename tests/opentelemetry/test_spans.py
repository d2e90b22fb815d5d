"""Spans: one per send, a child per attempt with its real times, skips and waits as events,
errors as status, a parent span per broadcast, and never the recipient's address."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from broadcastio import (
    ConfigurationError,
    Contact,
    DeliveryResult,
    ErrorCode,
    Message,
    OrchestrationError,
    RetryPolicy,
)
from broadcastio.broadcast import broadcast
from broadcastio.broadcast.task import reference_id_for
from broadcastio_opentelemetry import OpenTelemetryPlugin
from tests.conftest import FakeClock, ScriptedProvider
from tests.opentelemetry.conftest import Telemetry, children_of


class Mail(ScriptedProvider):
    """A scripted provider whose type is ``email`` whatever its instance name."""

    name = "email"
    address_kind = "email"


class Phone(ScriptedProvider):
    name = "whatsapp"
    address_kind = "phone"


def _nanoseconds(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(
        microseconds=1
    ) * 1000


def test_a_send_is_one_producer_span_with_a_client_child_per_attempt(
    telemetry: Telemetry,
) -> None:
    down = Phone("wa-main", ready=False)
    flaky = Phone("wa-backup", [ErrorCode.PROVIDER_UNAVAILABLE])
    mail = Mail("alerts-mail")
    orchestrator = telemetry.orchestrator(
        [down, flaky, mail],
        retry_policies={"wa-backup": RetryPolicy(max_attempts=1)},
    )
    contact = Contact({"phone": "+15551234567", "email": "ops@example.com"})
    result = orchestrator.send(Message(contact, "disk full"), trace=True)
    assert result.success and result.provider == "alerts-mail"

    (send,) = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    assert send.name == "send wa-main"
    assert send.parent is None
    attributes = dict(send.attributes or {})
    assert attributes["messaging.system"] == "whatsapp"  # the first provider's type
    assert attributes["messaging.operation.name"] == "send"
    assert attributes["messaging.operation.type"] == "send"
    assert attributes["messaging.message.id"] == result.message_id
    assert attributes["broadcastio.provider.name"] == "alerts-mail"
    assert attributes["broadcastio.chain"] == ("wa-main", "wa-backup", "alerts-mail")
    assert attributes["broadcastio.providers_tried"] == ("wa-backup", "alerts-mail")
    assert "error.type" not in attributes
    assert send.status.status_code is StatusCode.UNSET

    # The unhealthy provider is an event, not an attempt.
    assert [(event.name, dict(event.attributes or {})) for event in send.events] == [
        (
            "provider skipped",
            {"broadcastio.provider.name": "wa-main", "broadcastio.skip.reason": "scripted"},
        )
    ]

    attempts = children_of(send, telemetry.spans())
    assert [span.name for span in attempts] == ["send wa-backup", "send alerts-mail"]
    assert all(span.kind is SpanKind.CLIENT for span in attempts)
    failed, delivered = attempts
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "PROVIDER_UNAVAILABLE"
    assert dict(failed.attributes or {})["error.type"] == "PROVIDER_UNAVAILABLE"
    assert dict(failed.attributes or {})["messaging.system"] == "whatsapp"
    assert dict(delivered.attributes or {})["messaging.system"] == "email"
    assert dict(delivered.attributes or {})["messaging.message.id"] == result.message_id
    assert dict(delivered.attributes or {})["broadcastio.attempt"] == 1
    assert "error.type" not in dict(delivered.attributes or {})

    # Each attempt span has the attempt's own start and end, as the trace recorded them.
    assert result.trace is not None
    for span, attempt in zip(attempts, result.trace.attempts, strict=True):
        assert span.start_time == _nanoseconds(attempt.started_at)
        assert span.end_time == span.start_time + int(attempt.duration_ms * 1_000_000)
        # Inside the send span (the attempt's clock has microseconds, the span's nanoseconds).
        assert send.start_time is not None and send.end_time is not None
        assert send.start_time - 1000 <= span.start_time <= (span.end_time or 0) <= send.end_time


def test_retries_are_attempt_spans_numbered_per_provider(telemetry: Telemetry) -> None:
    flaky = ScriptedProvider("a", [ErrorCode.PROVIDER_UNAVAILABLE, ErrorCode.PROVIDER_UNAVAILABLE])
    orchestrator = telemetry.orchestrator(
        [flaky], retry_policy=RetryPolicy(max_attempts=3, backoff="none")
    )
    assert orchestrator.send(Message("+15551234567", "hi")).success
    (send,) = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    assert send.name == "send a"
    attempts = children_of(send, telemetry.spans())
    assert [dict(span.attributes or {})["broadcastio.attempt"] for span in attempts] == [1, 2, 3]
    assert [span.status.status_code for span in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]


def test_a_failed_send_has_error_status_and_the_error_code(telemetry: Telemetry) -> None:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a", [ErrorCode.INVALID_RECIPIENT])]
    )
    result = orchestrator.send(Message("+15551234567", "hi"))
    assert not result.success
    (send,) = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    assert send.status.status_code is StatusCode.ERROR
    assert send.status.description == "INVALID_RECIPIENT"
    assert dict(send.attributes or {})["error.type"] == "INVALID_RECIPIENT"
    assert "messaging.message.id" not in dict(send.attributes or {})


def test_a_send_that_raises_ends_its_span_and_restores_the_context(telemetry: Telemetry) -> None:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a", ready=False)], require_healthy=True
    )
    with pytest.raises(OrchestrationError):
        orchestrator.send(Message("+15551234567", "hi"))
    (send,) = telemetry.spans()
    assert send.end_time is not None
    assert send.status.status_code is StatusCode.ERROR
    expected = f"{OrchestrationError.__module__}.{OrchestrationError.__qualname__}"
    assert dict(send.attributes or {})["error.type"] == expected
    assert not trace.get_current_span().get_span_context().is_valid


def test_the_send_span_is_a_child_of_the_callers_span_and_is_current_while_sending(
    telemetry: Telemetry,
) -> None:
    seen: list[Any] = []

    class Looking(ScriptedProvider):
        def send(self, message: Message) -> Any:
            seen.append(trace.get_current_span().get_span_context())
            return super().send(message)

    orchestrator = telemetry.orchestrator([Looking("a")])
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as outer:
        orchestrator.send(Message("+15551234567", "hi"))
        assert trace.get_current_span() is outer
    (send,) = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    assert send.parent is not None and send.parent.span_id == outer.get_span_context().span_id
    # What a provider sees as current (and sends on as traceparent) is the send span.
    assert seen == [send.context]


def test_waits_are_events_on_the_send_span(telemetry: Telemetry, clock: FakeClock) -> None:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a")], clock=clock, rate_limits={"a": "1/second"}
    )
    orchestrator.send(Message("+15551234567", "one"))
    orchestrator.send(Message("+15551234567", "two"))
    second = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER][1]
    (event,) = second.events
    assert event.name == "wait"
    assert dict(event.attributes or {}) == {
        "broadcastio.provider.name": "a",
        "broadcastio.wait.reason": "rate_limit",
        "broadcastio.wait.seconds": clock.sleeps[0],
    }


def _everything_recorded(spans: list[ReadableSpan], *, keys: bool = True) -> list[str]:
    """Every text a backend would receive: names, attribute values, events, links, statuses
    (and the attribute keys, unless ``keys=False``: they are constants)."""
    texts: list[str] = []

    def add(attributes: Any) -> None:
        for key, value in dict(attributes or {}).items():
            if keys:
                texts.append(str(key))
            texts.extend(str(item) for item in (value if isinstance(value, tuple) else (value,)))

    for span in spans:
        texts.append(span.name)
        texts.append(span.status.description or "")
        add(span.attributes)
        for event in span.events:
            texts.append(event.name)
            add(event.attributes)
        for link in span.links:
            add(link.attributes)
    return texts


def _metric_values(telemetry: Telemetry) -> list[str]:
    return [
        str(value)
        for metric in telemetry.metrics().values()
        for point in metric.data.data_points
        for value in dict(point.attributes or {}).values()
    ]


class WhatsAppIds(Phone):
    """Delivers with ids shaped like WhatsApp's (the fake and the real driver's), which hold
    the number, and declares so."""

    message_ids_contain_address = True

    def send(self, message: Message) -> DeliveryResult:
        result = super().send(message)
        if not result.success:
            return result
        digits = self.address_of(message).lstrip("+")
        return DeliveryResult.delivered(self.name, f"true_{digits}@c.us_3EB0{len(self.calls):016X}")


class MessageIdMail(Mail):
    """Delivers with RFC 5322 Message-IDs made the way the email provider makes them: an
    unkeyed digest of the reference id and the address."""

    def send(self, message: Message) -> DeliveryResult:
        result = super().send(message)
        if not result.success:
            return result
        seed = f"{message.metadata.reference_id}\x00{self.address_of(message)}"
        digest = hashlib.sha256(seed.encode()).hexdigest()
        return DeliveryResult.delivered(self.name, f"<bio.{digest[:40]}@example.org>")


phones = st.from_regex(r"\+[1-9][0-9]{7,12}", fullmatch=True)
# A dot inside: no hex digest, provider name or error code can contain one by chance.
local_parts = st.from_regex(r"[a-z]{4,8}\.[a-z]{4,8}", fullmatch=True)
domains = st.from_regex(r"[a-z]{3,10}\.(com|org|id)", fullmatch=True)
KEY = b"0123456789abcdef-secret"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(phone=phones, local=local_parts, domain=domains, fail=st.booleans(), keyed=st.booleans())
def test_no_recipient_address_is_ever_recorded(
    phone: str, local: str, domain: str, fail: bool, keyed: bool
) -> None:
    """Not the address, nor its bare digits or local part, though the providers' own ids
    contain them (WhatsApp) or are derived from them (the email Message-ID)."""
    email = f"{local}@{domain}"
    digits = phone.lstrip("+")
    telemetry = Telemetry()
    try:
        script = [ErrorCode.INVALID_RECIPIENT] if fail else []
        orchestrator = telemetry.orchestrator(
            [WhatsAppIds("wa", list(script)), MessageIdMail("mail", list(script))],
            plugin_options={"recipient_key": KEY} if keyed else {},
        )
        results = [
            orchestrator.send(Message(Contact({"phone": phone, "email": email}), "hi")),
            orchestrator.send(Message(phone, "hi")),
            orchestrator.send(Message(Contact({"email": email}), "hi")),
        ]
        ids = [result.message_id or "" for result in results]
        # The ids do carry the number, and one is a Message-ID: what follows can fail.
        assert any(digits in message_id for message_id in ids)
        assert ids[-1].startswith("<bio.")
        texts = _everything_recorded(telemetry.spans())
        assert texts
        assert not [text for text in texts if phone in text or email in text]
        values = _everything_recorded(telemetry.spans(), keys=False) + _metric_values(telemetry)
        leaks = [text for text in values if digits in text or local in text]
        assert not leaks
    finally:
        telemetry.shutdown()


@pytest.mark.parametrize("keyed", [False, True])
def test_ids_holding_the_address_are_recorded_only_as_a_keyed_hash(keyed: bool) -> None:
    telemetry = Telemetry()
    try:
        orchestrator = telemetry.orchestrator(
            [WhatsAppIds("wa"), MessageIdMail("mail")],
            plugin_options={"recipient_key": KEY} if keyed else {},
        )
        by_whatsapp = orchestrator.send(Message("+15551234567", "hi"))
        by_mail = orchestrator.send(Message(Contact({"email": "ops@example.com"}), "hi"))
        assert by_whatsapp.provider == "wa" and by_mail.provider == "mail"
        spans = telemetry.spans()
        whatsapp_spans = [s for s in spans if dict(s.attributes or {}).get(
            "broadcastio.provider.name") == "wa"]
        assert len(whatsapp_spans) == 2  # the send span and its attempt
        for span in whatsapp_spans:
            attributes = dict(span.attributes or {})
            assert "messaging.message.id" not in attributes
            if keyed:
                assert by_whatsapp.message_id is not None
                expected = OpenTelemetryPlugin(recipient_key=KEY).message_id_hash(
                    by_whatsapp.message_id
                )
                assert attributes["broadcastio.message.id_hash"] == expected
                assert expected == hmac.new(
                    KEY, b"broadcastio.message.id\x00" + by_whatsapp.message_id.encode(),
                    hashlib.sha256,
                ).hexdigest()[:32]
            else:
                assert "broadcastio.message.id_hash" not in attributes
        # A provider that does not declare it keeps the conventions' attribute.
        mail_spans = [s for s in spans if dict(s.attributes or {}).get(
            "broadcastio.provider.name") == "mail"]
        assert mail_spans and all(
            dict(s.attributes or {})["messaging.message.id"] == by_mail.message_id
            for s in mail_spans
        )
    finally:
        telemetry.shutdown()


def test_the_recipient_hash_is_a_keyed_hmac_when_opted_in(telemetry: Telemetry) -> None:
    key = b"0123456789abcdef-secret"
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a")], plugin_options={"recipient_key": key}
    )
    orchestrator.send(Message("+15551234567", "hi"))
    (send,) = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    recorded = dict(send.attributes or {})["broadcastio.recipient.hash"]
    expected = hmac.new(key, b"+15551234567", hashlib.sha256).hexdigest()[:32]
    assert recorded == expected
    # Another key, another value: without the key the hash cannot be recomputed.
    other = OpenTelemetryPlugin(recipient_key=b"another key of 16+ bytes")
    assert other.recipient_hash(Message("+15551234567", "hi")) != recorded


def test_without_opting_in_there_is_no_recipient_attribute(telemetry: Telemetry) -> None:
    telemetry.orchestrator([ScriptedProvider("a")]).send(Message("+15551234567", "hi"))
    for span in telemetry.spans():
        assert "broadcastio.recipient.hash" not in dict(span.attributes or {})


def test_a_short_recipient_key_or_a_bad_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        OpenTelemetryPlugin(recipient_key="short")
    with pytest.raises(ConfigurationError, match="'child' or 'link'"):
        OpenTelemetryPlugin(broadcast_sends="sideways")  # type: ignore[arg-type]


def _broadcast(telemetry: Telemetry, **plugin_options: Any) -> tuple[ReadableSpan, list[Any]]:
    orchestrator = telemetry.orchestrator(
        [ScriptedProvider("a", [ErrorCode.INVALID_RECIPIENT])], plugin_options=plugin_options
    )
    messages = [Message(f"+1555000{n:04d}", "hi") for n in range(12)]
    report = broadcast(orchestrator, messages, broadcast_id="weekly", concurrency=3)
    assert report.delivered == 11 and report.failed == 1
    (run,) = telemetry.named("broadcast")
    sends = [span for span in telemetry.spans() if span.kind is SpanKind.PRODUCER]
    assert len(sends) == 12
    return run, sends


@pytest.mark.parametrize("keyed", [False, True])
def test_a_broadcasts_reference_ids_are_never_recorded_as_they_are(keyed: bool) -> None:
    """A broadcast's reference id is an unkeyed digest of its id (on the parent span) and
    the recipient: whoever tries every number would recover who got each message."""
    telemetry = Telemetry()
    try:
        options: dict[str, Any] = {"recipient_key": KEY} if keyed else {}
        run, sends = _broadcast(telemetry, **options)
        recipients = [f"+1555000{n:04d}" for n in range(12)]
        derived = {reference_id_for("weekly", recipient) for recipient in recipients}
        texts = _everything_recorded(telemetry.spans())
        assert not [text for text in texts if any(value in text for value in derived)]
        assert not [t for t in texts if t == "broadcastio.message.reference_id"]
        hashes = {dict(send.attributes or {}).get("broadcastio.message.reference_id_hash")
                  for send in sends}
        if keyed:
            plugin = OpenTelemetryPlugin(recipient_key=KEY)
            assert hashes == {plugin.reference_id_hash(value) for value in derived}
            some = next(iter(derived))
            assert plugin.reference_id_hash(some) == hmac.new(
                KEY, b"broadcastio.message.reference_id\x00" + some.encode(), hashlib.sha256
            ).hexdigest()[:32]
        else:
            assert hashes == {None}
    finally:
        telemetry.shutdown()


def test_a_broadcast_is_the_parent_span_of_its_sends(telemetry: Telemetry) -> None:
    run, sends = _broadcast(telemetry)
    assert run.kind is SpanKind.INTERNAL
    assert dict(run.attributes or {}) == {
        "broadcastio.broadcast.id": "weekly",
        "broadcastio.broadcast.run": 1,
        "broadcastio.broadcast.concurrency": 3,
        "broadcastio.broadcast.total": 12,
        "broadcastio.broadcast.delivered": 11,
        "broadcastio.broadcast.failed": 1,
        "broadcastio.broadcast.ambiguous": 0,
        "broadcastio.broadcast.not_sent": 0,
        "broadcastio.broadcast.interrupted": False,
    }
    # Sent from the run's worker threads, yet every send is the broadcast's child.
    for send in sends:
        assert send.parent is not None and send.parent.span_id == run.context.span_id
        assert send.context.trace_id == run.context.trace_id
    assert run.start_time is not None and run.end_time is not None
    assert all(run.start_time <= (send.start_time or 0) for send in sends)
    assert all((send.end_time or 0) <= run.end_time for send in sends)
    # The thread that iterated the broadcast has nothing left current.
    assert not trace.get_current_span().get_span_context().is_valid


def test_link_mode_gives_each_send_its_own_trace_linked_to_the_broadcast(
    telemetry: Telemetry,
) -> None:
    run, sends = _broadcast(telemetry, broadcast_sends="link")
    for send in sends:
        assert send.parent is None
        assert send.context.trace_id != run.context.trace_id
        assert [link.context.span_id for link in send.links] == [run.context.span_id]
    assert len({send.context.trace_id for send in sends}) == 12

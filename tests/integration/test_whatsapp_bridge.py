"""The WhatsApp provider against the real node-bridge process (fake WhatsApp driver).

Everything here goes through ``Orchestrator.from_plugins``, the installed
plugins' entry points, real HTTP on loopback and the bridge's real queue,
idempotency store and error mapping. Only WhatsApp itself is simulated.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from broadcastio import (
    Attachment,
    ErrorCode,
    Message,
    OrchestrationError,
    Orchestrator,
    RetryPolicy,
)
from broadcastio_whatsapp import idempotency_key

pytestmark = pytest.mark.integration

RECIPIENT = "+15551234567"


def chain(bridge, *, whatsapp=None, order=("whatsapp", "dummy"), **kwargs) -> Orchestrator:
    return Orchestrator.from_plugins(
        list(order), settings={"whatsapp": bridge.settings(**(whatsapp or {}))}, **kwargs
    )


def test_delivery_through_whatsapp(bridge) -> None:
    message = Message(RECIPIENT, "Backup finished")
    result = chain(bridge).send(message, trace=True)
    assert result.success and result.provider == "whatsapp"
    assert result.providers_tried == ("whatsapp",)
    assert result.details["to"] == "15551234567@c.us"
    (sent,) = bridge.sent()
    assert sent["to"] == "15551234567@c.us"
    assert sent["text"] == "Backup finished"
    assert sent["media"] is None
    assert sent["idempotencyKey"] == idempotency_key(message)
    assert sent["id"] == result.message_id


def test_health_is_ready_with_the_session_state(bridge) -> None:
    (health,) = chain(bridge, order=["whatsapp"]).health()
    assert health.ready and health.details["state"] == "READY"


def test_qr_state_is_skipped_in_strict_mode_and_falls_back(bridge) -> None:
    bridge.set_state("QR")
    orchestrator = chain(bridge, require_healthy=True)
    result = orchestrator.send(Message(RECIPIENT, "hi"), trace=True)
    assert result.provider == "dummy"
    (skipped,) = result.trace.skipped
    assert skipped.provider == "whatsapp" and skipped.details["state"] == "QR"
    assert "scan the code" in skipped.details["reason"]
    assert bridge.sent() == []
    with pytest.raises(OrchestrationError, match="whatsapp: QR: scan the code"):
        chain(bridge, order=["whatsapp"], require_healthy=True).send(Message(RECIPIENT, "hi"))


def test_not_ready_bridge_answers_503_when_health_is_stale(bridge) -> None:
    orchestrator = chain(bridge, order=["whatsapp"], health_ttl=60)
    assert orchestrator.send(Message(RECIPIENT, "first")).success  # health cached as READY
    bridge.set_state("DISCONNECTED", error="phone offline")
    result = orchestrator.send(Message(RECIPIENT, "second"))
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["http_status"] == 503
    assert result.error.details["state"] == "DISCONNECTED"


def test_bridge_killed_mid_run_is_unavailable_then_falls_back(start_bridge) -> None:
    private = start_bridge()
    orchestrator = chain(private, health_ttl=60, retry_policy=RetryPolicy(max_attempts=2))
    assert orchestrator.send(Message(RECIPIENT, "before")).provider == "whatsapp"
    private.kill()
    result = orchestrator.send(Message(RECIPIENT, "after"), trace=True)
    assert result.success and result.provider == "dummy"
    attempts = [
        (a.provider, a.attempt, a.error.code if a.error else None) for a in result.trace.attempts
    ]
    assert attempts == [
        ("whatsapp", 1, ErrorCode.PROVIDER_UNAVAILABLE),
        ("whatsapp", 2, ErrorCode.PROVIDER_UNAVAILABLE),
        ("dummy", 1, None),
    ]
    # After the cache expires, health sees the bridge is gone and skips it.
    orchestrator.health_cache.invalidate()
    again = orchestrator.send(Message(RECIPIENT, "later"), trace=True)
    assert again.provider == "dummy"
    assert again.trace.skipped[0].provider == "whatsapp"


def test_rate_limited_is_retried_after_retry_after(bridge) -> None:
    bridge.script({"type": "rate_limited", "retryAfter": 1})
    policy = RetryPolicy(max_attempts=2, retry_on=["RATE_LIMITED"], max_delay=5)
    result = chain(bridge, retry_policy=policy).send(Message(RECIPIENT, "hi"), trace=True)
    assert result.provider == "whatsapp"
    first, second = result.trace.attempts
    assert first.error.code is ErrorCode.RATE_LIMITED
    assert first.error.details["retry_after"] == 1
    assert (second.started_at - first.finished_at).total_seconds() >= 1.0
    assert len(bridge.sent()) == 1


def test_rate_limited_beyond_max_delay_fails_over(bridge) -> None:
    bridge.script({"type": "rate_limited", "retryAfter": 30})
    policy = RetryPolicy(max_attempts=3, retry_on=["RATE_LIMITED"], max_delay=2)
    result = chain(bridge, retry_policy=policy).send(Message(RECIPIENT, "hi"), trace=True)
    assert result.provider == "dummy"
    assert [a.provider for a in result.trace.attempts] == ["whatsapp", "dummy"]


def test_timeout_then_retry_with_the_same_key_sends_once(bridge) -> None:
    bridge.script({"type": "timeout"})
    policy = RetryPolicy(max_attempts=5, backoff="fixed", base_delay=0.3, retry_on=["TIMEOUT"])
    message = Message(RECIPIENT, "exactly once")
    result = chain(bridge, retry_policy=policy).send(message, trace=True)
    assert result.success and result.provider == "whatsapp"
    assert result.trace.attempts[0].error.code is ErrorCode.TIMEOUT
    assert result.trace.attempts[0].error.details["http_status"] == 504
    assert result.details["replayed"] is True
    sent = bridge.sent()
    assert len(sent) == 1
    assert sent[0]["idempotencyKey"] == idempotency_key(message)
    assert sent[0]["id"] == result.message_id


def test_wrong_api_key_is_authentication_failed_without_retry(bridge) -> None:
    policy = RetryPolicy(max_attempts=3, retry_on=["PROVIDER_UNAVAILABLE", "TIMEOUT"])
    orchestrator = chain(
        bridge, whatsapp={"api_key": "wrong-key"}, order=["whatsapp"], retry_policy=policy
    )
    result = orchestrator.send(Message(RECIPIENT, "hi"), trace=True)
    (first,) = result.trace.attempts  # tried although unhealthy: nobody else to try; no retry
    assert (first.provider, first.error.code) == ("whatsapp", ErrorCode.AUTHENTICATION_FAILED)
    assert first.error.details["http_status"] == 401
    assert "set api_key / BROADCASTIO_WHATSAPP_API_KEY" in first.error.message
    assert bridge.sent() == []


def test_wrong_api_key_makes_health_not_ready_so_the_fallback_is_used(bridge) -> None:
    orchestrator = chain(bridge, whatsapp={"api_key": "wrong-key"})
    (whatsapp, _) = orchestrator.health()
    assert not whatsapp.ready
    assert whatsapp.details["reason"] == (
        "the bridge refused the API key (set api_key / BROADCASTIO_WHATSAPP_API_KEY)"
    )
    result = orchestrator.send(Message(RECIPIENT, "hi"), trace=True)
    assert [a.provider for a in result.trace.attempts] == ["dummy"]
    assert [h.provider for h in result.trace.skipped] == ["whatsapp"]
    assert bridge.sent() == []


def test_attachment_round_trip(bridge, tmp_path) -> None:
    path = tmp_path / "report.pdf"
    content = b"%PDF-1.7\n" + os.urandom(4096)
    path.write_bytes(content)
    message = Message(RECIPIENT, "Monthly report", attachment=Attachment(path))
    assert chain(bridge, order=["whatsapp"]).send(message).success
    (sent,) = bridge.sent()
    assert sent["text"] == "Monthly report"
    assert sent["media"]["filename"] == "report.pdf"
    assert sent["media"]["mimetype"] == "application/pdf"
    assert sent["media"]["size"] == len(content)
    assert sent["media"]["sha256"] == hashlib.sha256(content).hexdigest()


def test_ten_mebibyte_attachment(bridge) -> None:
    content = os.urandom(10 * 1024 * 1024)
    message = Message(RECIPIENT, None, attachment=Attachment.from_bytes(content, "dump.bin"))
    result = chain(bridge, order=["whatsapp"]).send(message)
    assert result.success, result.error
    (sent,) = bridge.sent()
    assert sent["text"] is None
    assert sent["media"]["size"] == len(content)
    assert sent["media"]["sha256"] == hashlib.sha256(content).hexdigest()


def test_oversized_attachment_is_an_invalid_message(start_bridge) -> None:
    private = start_bridge(BRIDGE_MEDIA_MAX_BYTES=str(1024))
    message = Message(RECIPIENT, None, attachment=Attachment.from_bytes(b"x" * 2048, "big.bin"))
    result = chain(private, order=["whatsapp"]).send(message)
    assert result.error.code is ErrorCode.INVALID_MESSAGE
    assert result.error.details["http_status"] == 413
    assert private.sent() == []


def test_number_not_on_whatsapp_is_invalid_recipient(bridge) -> None:
    bridge.unregister("15550000000")
    result = chain(bridge, order=["whatsapp"]).send(Message("+15550000000", "hi"))
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert result.error.details["bridge_code"] == "NOT_ON_WHATSAPP"
    assert bridge.sent() == []


def test_malformed_recipient_is_invalid_recipient(bridge) -> None:
    result = chain(bridge, order=["whatsapp"]).send(Message("not-a-number", "hi"))
    assert result.error.code is ErrorCode.INVALID_RECIPIENT
    assert result.error.details["http_status"] == 400
    assert result.error.details["field"] == "to"


def test_send_failure_is_provider_rejected_and_falls_back(bridge) -> None:
    bridge.script({"type": "send_failed", "message": "Evaluation failed"})
    result = chain(bridge).send(Message(RECIPIENT, "hi"), trace=True)
    assert result.provider == "dummy"
    error = result.trace.attempts[0].error
    assert error.code is ErrorCode.PROVIDER_REJECTED
    assert error.details["http_status"] == 502
    assert "Evaluation failed" in error.message


def test_the_api_key_never_appears_in_bridge_logs(bridge) -> None:
    chain(bridge).send(Message(RECIPIENT, "hi"))
    chain(bridge, whatsapp={"api_key": "wrong-key-that-must-not-leak"}).send(
        Message(RECIPIENT, "x")
    )
    logs = "".join(bridge.log_lines)
    assert logs, "the bridge logged nothing at all"
    assert bridge.api_key not in logs
    assert "wrong-key-that-must-not-leak" not in logs

"""Signature, idempotency key and extra headers, as the receiving server saw them.

The signature is checked with a verifier written here from the documented
format alone (``docs/webhook.md``), not with the plugin's own code.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from local_http import HttpServer, RecordedRequest, Reply

from broadcastio import Message, Orchestrator, RetryPolicy
from broadcastio_webhook import WebhookProvider

SECRET = "whsec-7c1f0e9a2b4d4f7e8a1b"


def verified(request: RecordedRequest, secret: str, tolerance: float = 300) -> bool:
    """Independent verifier: ``t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>``."""
    header = request.header("Broadcastio-Signature")
    if header is None:
        return False
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = fields.get("t", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def test_a_signed_request_verifies_and_a_tampered_one_does_not(server: HttpServer) -> None:
    with WebhookProvider(url=server.url + "/hook", signing_secret=SECRET) as provider:
        assert provider.send(Message("ops", "Backup failed ✓", title="db1")).success
    (request,) = server.requests
    assert verified(request, SECRET)
    assert not verified(request, SECRET + "x")
    tampered = RecordedRequest(
        request.method, request.path, request.headers, request.body.replace(b"db1", b"db2"), 0.0
    )
    assert not verified(tampered, SECRET)


def test_unsigned_without_a_secret(server: HttpServer) -> None:
    with WebhookProvider(url=server.url + "/hook") as provider:
        assert provider.send(Message("ops", "x")).success
    assert server.requests[0].header("Broadcastio-Signature") is None


def test_retries_keep_the_idempotency_key_and_are_each_signed(server: HttpServer) -> None:
    server.script("/hook", Reply(503), Reply(503), Reply(200), method="POST")
    provider = WebhookProvider(url=server.url + "/hook", signing_secret=SECRET)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, backoff="fixed")
    message = Message("ops", "Backup failed")
    with Orchestrator([provider], retry_policy=policy) as orchestrator:
        assert orchestrator.send(message).success
    requests = [request for request in server.requests if request.method == "POST"]
    assert len(requests) == 3
    keys = {request.header("Idempotency-Key") for request in requests}
    assert len(keys) == 1 and keys.pop() is not None
    assert all(verified(request, SECRET) for request in requests)
    # Another message gets another key.
    with WebhookProvider(url=server.url + "/hook") as again:
        again.send(Message("ops", "Backup failed"))
    assert server.requests[-1].header("Idempotency-Key") not in {
        request.header("Idempotency-Key") for request in requests
    }


def test_extra_headers_are_sent(server: HttpServer) -> None:
    headers = {"Authorization": "Bearer tk_abc", "X-Team": "ops"}
    with WebhookProvider(url=server.url + "/hook", headers=headers) as provider:
        assert provider.send(Message("ops", "x")).success
        assert provider.health().ready
    post, head = server.requests
    assert head.method == "HEAD"
    for request in (post, head):
        assert request.header("Authorization") == "Bearer tk_abc"
        assert request.header("X-Team") == "ops"
    assert "tk_abc" not in repr(provider.settings)

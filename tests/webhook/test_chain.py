"""The webhook provider inside an orchestrator: retries, fallback, contacts, threads."""

from __future__ import annotations

import threading

import pytest
from local_http import HttpServer, Reply

from broadcastio import Contact, ErrorCode, Message, Orchestrator, RetryPolicy, ValidationError
from broadcastio.broadcast import broadcast
from broadcastio.engine.clock import SystemClock
from broadcastio_webhook import ADDRESS_KIND, WebhookProvider

RETRY_ALL = RetryPolicy(
    max_attempts=3,
    base_delay=0.01,
    backoff="fixed",
    retry_on=["PROVIDER_UNAVAILABLE", "RATE_LIMITED", "TIMEOUT"],
)


class RecordedSleeps(SystemClock):
    """The real clock, except that waits are recorded instead of slept."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def posts(server: HttpServer) -> int:
    return sum(1 for request in server.requests if request.method == "POST")


def test_429_waits_the_retry_after_then_delivers(server: HttpServer) -> None:
    server.script("/hook", Reply(429, headers={"Retry-After": "7"}), method="POST")
    clock = RecordedSleeps()
    provider = WebhookProvider(url=server.url + "/hook")
    with Orchestrator([provider], retry_policy=RETRY_ALL, clock=clock) as orchestrator:
        result = orchestrator.send(Message("ops", "Backup failed"), trace=True)
    assert result.success and posts(server) == 2
    assert clock.sleeps and max(clock.sleeps) >= 7
    assert result.trace is not None
    first = result.trace.attempts[0]
    assert first.error is not None and first.error.code is ErrorCode.RATE_LIMITED


def test_a_timeout_is_retried(server: HttpServer) -> None:
    server.script("/hook", Reply(delay=1.0), method="POST")
    provider = WebhookProvider(url=server.url + "/hook", timeout=0.25)
    with Orchestrator([provider], retry_policy=RETRY_ALL) as orchestrator:
        result = orchestrator.send(Message("ops", "x"))
    assert result.success and posts(server) == 2


def test_5xx_exhausts_the_retries_and_falls_back_to_the_next_instance(
    server: HttpServer, other_server: HttpServer
) -> None:
    # The HEAD of the health check succeeds: the sends themselves fail.
    server.script("/primary", *[Reply(503, body=b"down")] * 3, method="POST")
    primary = WebhookProvider(url=server.url + "/primary", format="slack", name="team-slack")
    backup = WebhookProvider(url=other_server.url + "/backup", format="discord", name="backup")
    with Orchestrator([primary, backup], retry_policy=RETRY_ALL) as orchestrator:
        result = orchestrator.send(Message("ops", "Backup failed"))
    assert result.success and result.provider == "backup"
    assert result.providers_tried == ("team-slack", "backup")
    assert posts(server) == 3 and posts(other_server) == 1
    assert other_server.requests[-1].json()["content"] == "Backup failed"


def test_an_unhealthy_webhook_is_skipped(server: HttpServer, other_server: HttpServer) -> None:
    server.default = Reply(503, body=b"down")
    primary = WebhookProvider(url=server.url + "/primary", name="primary")
    backup = WebhookProvider(url=other_server.url + "/backup", name="backup")
    with Orchestrator([primary, backup], retry_policy=RETRY_ALL) as orchestrator:
        result = orchestrator.send(Message("ops", "x"), trace=True)
    assert result.success and result.provider == "backup" and posts(server) == 0
    assert result.trace is not None
    assert [skip.provider for skip in result.trace.skipped] == ["primary"]


def test_an_unreachable_webhook_falls_back(other_server: HttpServer) -> None:
    primary = WebhookProvider(url="http://127.0.0.1:9/never", name="down", timeout=2)
    backup = WebhookProvider(url=other_server.url + "/backup", name="backup")
    with Orchestrator([primary, backup], retry_policy=RETRY_ALL) as orchestrator:
        result = orchestrator.send(Message("ops", "x"))
    assert result.success and result.provider == "backup"


def test_without_url_each_contact_gets_its_own_webhook(
    server: HttpServer, other_server: HttpServer
) -> None:
    provider = WebhookProvider()
    assert provider.address_kind == ADDRESS_KIND == "webhook"
    assert WebhookProvider(url=server.url).address_kind is None
    alice = Contact({"webhook": server.url + "/alice", "email": "a@example.com"}, id="alice")
    bob = Contact({"webhook": other_server.url + "/bob"}, id="bob")
    carol = Contact({"email": "c@example.com"}, id="carol")
    with Orchestrator([provider]) as orchestrator:
        assert orchestrator.send(Message(alice, "for alice")).success
        assert orchestrator.send(Message(bob, "for bob")).success
        # Carol has no webhook address: no provider of this chain can reach her.
        with pytest.raises(ValidationError, match="webhook"):
            orchestrator.send(Message(carol, "for carol"))
    assert [r.path for r in server.requests if r.method == "POST"] == ["/alice"]
    assert [r.path for r in other_server.requests] == ["/bob"]
    body = server.requests[-1].json()
    assert body["text"] == "for alice" and "recipient" not in body


def test_a_contact_address_that_is_not_http_is_an_invalid_recipient() -> None:
    with WebhookProvider() as provider:
        for address in ("ftp://example.com/x", "+15551234567", "https://"):
            result = provider.send(Message(address, "x"))
            assert result.error is not None
            assert result.error.code is ErrorCode.INVALID_RECIPIENT, address


def test_a_broadcast_from_several_threads_reuses_a_connection_per_thread(
    server: HttpServer,
) -> None:
    count, concurrency = 200, 4
    provider = WebhookProvider(url=server.url + "/hook", signing_secret="k" * 32)
    messages = [Message(f"person-{n}", f"hello {n}") for n in range(count)]
    with Orchestrator([provider]) as orchestrator:
        report = broadcast(orchestrator, messages, concurrency=concurrency)
    assert report.delivered == count
    received = sorted(
        request.json()["recipient"] for request in server.requests if request.method == "POST"
    )
    assert received == sorted(f"person-{n}" for n in range(count))
    keys = {
        request.header("Idempotency-Key") for request in server.requests if request.method == "POST"
    }
    assert len(keys) == count
    # One session per sending thread (and one for the health check's thread).
    assert provider.sessions_opened <= concurrency + 2
    assert server.connections <= concurrency + 2


def test_sessions_of_ended_threads_are_closed(server: HttpServer) -> None:
    provider = WebhookProvider(url=server.url + "/hook")

    def send_once() -> None:
        assert provider.send(Message("ops", "x")).success

    for _ in range(5):
        thread = threading.Thread(target=send_once)
        thread.start()
        thread.join()
    send_once()
    assert provider.sessions_opened == 6
    assert len(provider._sessions) <= 2  # noqa: SLF001 - the bookkeeping is the behaviour
    provider.close()


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_health_is_not_ready_when_the_server_refuses_or_fails(
    server: HttpServer, status: int
) -> None:
    server.script("/hook", Reply(status), method="HEAD")
    with WebhookProvider(url=server.url + "/hook") as provider:
        health = provider.health()
    assert not health.ready and health.details["status"] == status
    assert all(request.method == "HEAD" for request in server.requests)


@pytest.mark.parametrize("status", [200, 204, 404, 405])
def test_health_is_ready_when_the_server_answers(server: HttpServer, status: int) -> None:
    server.script("/hook", Reply(status), method="HEAD")
    with WebhookProvider(url=server.url + "/hook") as provider:
        health = provider.health()
    assert health.ready and health.details["url"] == server.url + "/***"
    assert [request.method for request in server.requests] == ["HEAD"]


def test_health_of_a_per_contact_instance_sends_nothing() -> None:
    with WebhookProvider() as provider:
        assert provider.health().ready


def test_a_receivers_cookies_are_never_sent_back(server: HttpServer) -> None:
    server.script("/a", Reply(200, headers={"Set-Cookie": "session=abc; Path=/"}))
    with WebhookProvider() as provider:
        assert provider.send(Message(server.url + "/a", "first")).success
        assert provider.send(Message(server.url + "/b", "second")).success
    assert [request.header("Cookie") for request in server.requests] == [None, None]

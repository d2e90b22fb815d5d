"""Every way a POST can end, driven by the server's real replies, mapped onto error codes."""

from __future__ import annotations

import email.utils
import logging
import json
import socket
import time

import pytest
from local_http import HttpServer, Reply
from webhook_helpers import SECRET_PATH

from broadcastio import ErrorCode, Message
from broadcastio_webhook import WebhookProvider


def send(url: str, **settings: object) -> tuple[bool, ErrorCode | None, dict[str, object], str]:
    with WebhookProvider(url=url, **settings) as provider:  # type: ignore[arg-type]
        result = provider.send(Message("ops", "Backup failed"))
    text = json.dumps(result.to_dict())
    assert SECRET_PATH not in text and "s3cr3t" not in text, text
    if result.success:
        return True, None, result.details, text
    assert result.error is not None
    return False, result.error.code, result.error.details, text


@pytest.mark.parametrize("status", [200, 201, 202, 204, 303])
def test_2xx_and_see_other_are_delivered(server: HttpServer, hook_url: str, status: int) -> None:
    server.script(SECRET_PATH, Reply(status, body=b"" if status == 204 else b"ok"))
    delivered, _, details, _ = send(hook_url)
    assert delivered and details["status"] == status
    assert details["url"] == server.url + "/***"


def test_the_receivers_own_id_becomes_the_message_id(server: HttpServer, hook_url: str) -> None:
    server.script(
        SECRET_PATH,
        Reply(
            200,
            body=b'{"id":"sPXXv3","event":"message"}',
            headers={"Content-Type": "application/json"},
        ),
    )
    with WebhookProvider(url=hook_url) as provider:
        result = provider.send(Message("ops", "x"))
    assert result.message_id == "sPXXv3"


def test_429_with_seconds_is_rate_limited_with_that_wait(server: HttpServer, hook_url: str) -> None:
    server.script(SECRET_PATH, Reply(429, headers={"Retry-After": "7"}, body=b"slow down"))
    delivered, code, details, _ = send(hook_url)
    assert not delivered and code is ErrorCode.RATE_LIMITED
    assert details["retry_after"] == 7.0 and details["status"] == 429


def test_429_with_an_http_date_is_rate_limited_until_then(
    server: HttpServer, hook_url: str
) -> None:
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    server.script(SECRET_PATH, Reply(429, headers={"Retry-After": later}))
    _, code, details, _ = send(hook_url)
    assert code is ErrorCode.RATE_LIMITED
    wait = details["retry_after"]
    assert isinstance(wait, float) and 100 < wait <= 121


def test_429_without_a_wait_leaves_it_to_the_policy(server: HttpServer, hook_url: str) -> None:
    server.script(SECRET_PATH, Reply(429, headers={"Retry-After": "soon"}))
    _, code, details, _ = send(hook_url)
    assert code is ErrorCode.RATE_LIMITED and "retry_after" not in details


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_unavailable(server: HttpServer, hook_url: str, status: int) -> None:
    server.script(SECRET_PATH, Reply(status, body=b"upstream down"))
    _, code, details, _ = send(hook_url)
    assert code is ErrorCode.PROVIDER_UNAVAILABLE and details["status"] == status


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_authentication_failures(
    server: HttpServer, hook_url: str, status: int
) -> None:
    server.script(SECRET_PATH, Reply(status, body=b"invalid_token"))
    _, code, details, _ = send(hook_url)
    assert code is ErrorCode.AUTHENTICATION_FAILED and details["response"] == "invalid_token"


@pytest.mark.parametrize("status", [400, 404, 410, 413, 422])
def test_other_4xx_are_rejections_with_the_first_bytes(
    server: HttpServer, hook_url: str, status: int
) -> None:
    # Express-like servers echo the request line: the secret path must not survive.
    body = f"Cannot POST {SECRET_PATH} ".encode() + b"x" * 2000
    server.script(SECRET_PATH, Reply(status, body=body))
    _, code, details, text = send(hook_url)
    assert code is ErrorCode.PROVIDER_REJECTED and details["status"] == status
    excerpt = details["response"]
    assert isinstance(excerpt, str) and excerpt.startswith("Cannot POST ***")
    assert len(excerpt) <= 500


def test_no_answer_in_time_is_a_timeout(server: HttpServer, hook_url: str) -> None:
    server.script(SECRET_PATH, Reply(delay=1.0))
    _, code, details, _ = send(hook_url, timeout=0.2)
    assert code is ErrorCode.TIMEOUT and details["timeout_seconds"] == 0.2


def test_a_refused_connection_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _, code, details, text = send(f"http://127.0.0.1:{port}{SECRET_PATH}?token=abc123")
    assert code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "refused" in text.lower() and "abc123" not in text
    assert details["url"] == f"http://127.0.0.1:{port}/***"


def test_a_dropped_connection_is_unavailable(server: HttpServer, hook_url: str) -> None:
    server.script(SECRET_PATH, Reply(drop=True))
    _, code, _, _ = send(hook_url)
    assert code is ErrorCode.PROVIDER_UNAVAILABLE


def test_a_closed_provider_fails_without_connecting(server: HttpServer, hook_url: str) -> None:
    provider = WebhookProvider(url=hook_url)
    provider.close()
    provider.close()
    result = provider.send(Message("ops", "x"))
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert not provider.health().ready
    assert server.requests == []


def test_connections_are_kept_alive_across_sends(server: HttpServer, hook_url: str) -> None:
    with WebhookProvider(url=hook_url) as provider:
        for number in range(20):
            assert provider.send(Message("ops", f"n{number}")).success
    assert len(server.requests) == 20 and server.connections == 1


def test_the_http_librarys_debug_log_does_not_show_the_path(
    server: HttpServer, hook_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # broadcastio -vv turns on debug logging, urllib3's request lines included.
    with caplog.at_level(logging.DEBUG):
        with WebhookProvider(url=hook_url + "?token=abc123") as provider:
            assert provider.send(Message("ops", "x")).success
            provider.health()
        with WebhookProvider() as per_contact:
            per_contact.send(Message(hook_url, "x"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST" in logged  # the request lines are there, without their target
    assert "s3cr3t" not in logged and "abc123" not in logged
    # Requests made by others in this process keep their paths.
    import requests

    with caplog.at_level(logging.DEBUG):
        requests.get(server.url + "/public/path", timeout=5)
    assert "/public/path" in caplog.records[-1].getMessage()

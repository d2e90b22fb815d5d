"""Redirects: followed to the same host with the same body, never to another host."""

from __future__ import annotations

import json

from local_http import HttpServer, Reply
from webhook_helpers import SECRET_PATH

from broadcastio import Contact, ErrorCode, Message
from broadcastio_webhook import WebhookProvider


def test_a_same_host_redirect_is_followed_with_the_same_body(
    server: HttpServer, hook_url: str
) -> None:
    server.script(SECRET_PATH, Reply(308, headers={"Location": "/moved/hook"}))
    server.script("/moved/hook", Reply(302, headers={"Location": server.url + "/final"}))
    with WebhookProvider(url=hook_url, signing_secret="s" * 32) as provider:
        result = provider.send(Message("ops", "Backup failed"))
    assert result.success, result.error
    first, second, third = server.requests
    assert [r.path for r in server.requests] == [SECRET_PATH, "/moved/hook", "/final"]
    assert all(r.method == "POST" for r in server.requests)
    assert first.body == second.body == third.body
    assert first.header("Idempotency-Key") == third.header("Idempotency-Key")
    assert result.details["url"] == server.url + "/***"


def test_a_redirect_to_another_host_is_not_followed(
    server: HttpServer, other_server: HttpServer, hook_url: str
) -> None:
    # 127.0.0.1 and localhost: the same machine, but another host name.
    elsewhere = other_server.url.replace("127.0.0.1", "localhost") + "/steal?token=abc"
    server.script(SECRET_PATH, Reply(307, headers={"Location": elsewhere}))
    with WebhookProvider(url=hook_url, headers={"Authorization": "Bearer tk"}) as provider:
        result = provider.send(Message("ops", "Backup failed"))
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert other_server.requests == []
    assert len(server.requests) == 1
    text = json.dumps(result.to_dict())
    assert "abc" not in text and "s3cr3t" not in text
    assert (
        result.error.details["redirected_to"]
        == other_server.url.replace("127.0.0.1", "localhost") + "/***"
    )


def test_a_per_contact_redirect_elsewhere_is_the_recipients_problem(
    server: HttpServer, other_server: HttpServer
) -> None:
    server.script(
        "/hook",
        Reply(301, headers={"Location": other_server.url.replace("127.0.0.1", "localhost") + "/x"}),
    )
    with WebhookProvider() as provider:
        result = provider.send(Message(Contact({"webhook": server.url + "/hook"}), "x"))
    assert result.error is not None and result.error.code is ErrorCode.INVALID_RECIPIENT
    assert other_server.requests == []


def test_a_redirect_loop_stops(server: HttpServer) -> None:
    server.default = Reply(307, headers={"Location": "/again"})
    with WebhookProvider(url=server.url + "/start") as provider:
        result = provider.send(Message("ops", "x"))
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_REJECTED
    assert len(server.requests) == 6

"""HTTPS: a private CA through ca_file, an untrusted certificate, and redirects across schemes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_http import HttpServer, Reply
from local_smtp import make_certificate

from broadcastio import ErrorCode, Message
from broadcastio_webhook import WebhookProvider


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[HttpServer]:
    with HttpServer(certificate=certificate[0], key=certificate[1]) as running:
        yield running


def test_a_private_ca_is_trusted_through_ca_file(
    https_server: HttpServer, certificate: tuple[Path, Path]
) -> None:
    assert https_server.url.startswith("https://")
    with WebhookProvider(url=https_server.url + "/hook", ca_file=str(certificate[0])) as provider:
        assert provider.health().ready
        result = provider.send(Message("ops", "over TLS"))
    assert result.success, result.error
    post = [request for request in https_server.requests if request.method == "POST"]
    assert post[0].json()["text"] == "over TLS"


def test_an_untrusted_certificate_is_a_configuration_problem(https_server: HttpServer) -> None:
    with WebhookProvider(url=https_server.url + "/services/T/B/s3cr3t") as provider:
        result = provider.send(Message("ops", "x"))
        health = provider.health()
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert "ca_file" in result.error.message and "s3cr3t" not in str(result.to_dict())
    assert not health.ready
    assert [request for request in https_server.requests if request.method == "POST"] == []


def test_a_redirect_from_https_down_to_http_is_not_followed(
    https_server: HttpServer, server: HttpServer, certificate: tuple[Path, Path]
) -> None:
    # Same host (127.0.0.1), but the message and headers would cross in clear.
    https_server.script("/hook", Reply(308, headers={"Location": server.url + "/plain"}))
    provider = WebhookProvider(
        url=https_server.url + "/hook",
        ca_file=str(certificate[0]),
        headers={"Authorization": "Bearer tk"},
    )
    with provider:
        result = provider.send(Message("ops", "x"))
    assert result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_MISCONFIGURED
    assert "never from https to http" in result.error.message
    assert server.requests == []


def test_a_redirect_from_http_up_to_https_on_the_same_host_is_followed(
    https_server: HttpServer, server: HttpServer, certificate: tuple[Path, Path]
) -> None:
    server.script("/hook", Reply(301, headers={"Location": https_server.url + "/secure"}))
    with WebhookProvider(url=server.url + "/hook", ca_file=str(certificate[0])) as provider:
        result = provider.send(Message("ops", "upgraded"))
    assert result.success, result.error
    (post,) = [request for request in https_server.requests if request.method == "POST"]
    assert post.path == "/secure" and post.json()["text"] == "upgraded"

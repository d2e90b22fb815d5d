"""Sends through Apprise's real plugins to real servers on loopback, and what they map onto."""

from __future__ import annotations

import base64
import logging

import pytest
from apprise_helpers import json_url, mailto_url
from local_http import HttpServer, Reply
from local_smtp import SmtpServer

from broadcastio import Attachment, ErrorCode, Message, Orchestrator, RetryPolicy
from broadcastio_apprise import AppriseProvider


def test_json_posts_the_title_and_body(http_server: HttpServer) -> None:
    with AppriseProvider(urls=[json_url(http_server)]) as provider:
        result = provider.send(Message("team", "Disk 91% full on db-1", title="db-1"))
    assert result.success, result.error
    (request,) = http_server.requests
    assert request.method == "POST" and request.path == "/hook"
    body = request.json()
    assert body["title"] == "db-1"
    assert body["message"] == "Disk 91% full on db-1"
    (report,) = result.details["urls"]
    assert report == {
        "index": 0,
        "service": "JSON",
        "url": json_url(http_server, "/***"),  # the path of a json:// URL may be its secret
        "status": "delivered",
    }


def test_mailto_reaches_the_smtp_server(smtp_server: SmtpServer) -> None:
    with AppriseProvider(urls=[mailto_url(smtp_server)]) as provider:
        result = provider.send(Message("team", "Backup failed on db1", title="db1 backup"))
    assert result.success, result.error
    (received,) = smtp_server.messages
    assert received["Subject"] == "db1 backup"
    assert "ops@example.com" in received["To"]
    assert "Backup failed on db1" in received.get_body(("plain", "html")).get_content()


def test_the_attachment_travels_with_the_notification(http_server: HttpServer) -> None:
    attachment = Attachment(data=b"id,state\n1,down\n", filename="report.csv", mime_type="text/csv")
    with AppriseProvider(urls=[json_url(http_server)]) as provider:
        result = provider.send(Message("team", "report attached", attachment=attachment))
    assert result.success, result.error
    (sent,) = http_server.requests[0].json()["attachments"]
    assert sent["filename"] == "report.csv"
    assert sent["mimetype"] == "text/csv"
    assert base64.b64decode(sent["base64"]) == b"id,state\n1,down\n"


def test_an_unreadable_attachment_is_reported_and_nothing_is_sent(
    http_server: HttpServer,
) -> None:
    missing = Attachment(path="/nonexistent/broadcastio/report.pdf")
    with AppriseProvider(urls=[json_url(http_server)]) as provider:
        result = provider.send(Message("team", "see attachment", attachment=missing))
    assert not result.success and result.error is not None
    assert result.error.code is ErrorCode.ATTACHMENT_NOT_FOUND
    assert http_server.requests == []


def test_a_failing_url_is_provider_unavailable_with_its_reason(http_server: HttpServer) -> None:
    http_server.script("/hook", Reply(500, b"internal error"))
    with AppriseProvider(urls=[json_url(http_server)]) as provider:
        result = provider.send(Message("team", "hello"))
    assert not result.success and result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    (report,) = result.error.details["urls"]
    assert report["status"] == "failed" and report["service"] == "JSON"
    assert "500" in report["error"]
    assert "urls[0] (JSON) failed" in result.error.message


def test_a_partial_failure_is_a_failure_naming_each_url(http_server: HttpServer) -> None:
    http_server.script("/broken", Reply(503, b"down"))
    urls = [json_url(http_server, "/fine"), json_url(http_server, "/broken")]
    with AppriseProvider(urls=urls) as provider:
        result = provider.send(Message("team", "hello"))
    assert not result.success and result.error is not None
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    statuses = {report["index"]: report["status"] for report in result.error.details["urls"]}
    assert statuses == {0: "delivered", 1: "failed"}
    assert result.error.message.startswith("1 of 2 Apprise URLs not delivered")
    assert sorted(request.path for request in http_server.requests) == ["/broken", "/fine"]


def test_a_retry_notifies_only_the_urls_that_did_not_take_the_message(
    http_server: HttpServer,
) -> None:
    http_server.script("/flaky", Reply(502, b"bad gateway"))  # then the default 200
    urls = [json_url(http_server, "/steady"), json_url(http_server, "/flaky")]
    orchestrator = Orchestrator(
        [AppriseProvider(urls=urls)],
        retry_policy=RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.01),
        health_ttl=None,
    )
    with orchestrator:
        result = orchestrator.send(Message("team", "deploy finished"))
    assert result.success and result.provider == "apprise"
    paths = [request.path for request in http_server.requests]
    assert sorted(paths) == ["/flaky", "/flaky", "/steady"]
    reports = {report["index"]: report["status"] for report in result.details["urls"]}
    assert reports == {0: "already-delivered", 1: "delivered"}


def test_a_new_message_notifies_every_url_again(http_server: HttpServer) -> None:
    http_server.script("/flaky", Reply(500))
    urls = [json_url(http_server, "/steady"), json_url(http_server, "/flaky")]
    with AppriseProvider(urls=urls) as provider:
        assert not provider.send(Message("team", "first")).success
        assert provider.send(Message("team", "second")).success
    paths = sorted(request.path for request in http_server.requests)
    assert paths == ["/flaky", "/flaky", "/steady", "/steady"]


def test_a_service_too_slow_for_the_timeout_is_a_timeout(http_server: HttpServer) -> None:
    http_server.script("/slow", Reply(200, delay=3.0))
    with AppriseProvider(urls=[json_url(http_server, "/slow")], timeout=0.5) as provider:
        result = provider.send(Message("team", "hello"))
    assert not result.success and result.error is not None
    assert result.error.code is ErrorCode.TIMEOUT
    assert result.error.details["urls"][0]["status"] == "timeout"
    assert "may still have delivered" in result.error.message


def test_a_timeout_beyond_apprise_read_timeout_is_still_a_timeout(http_server: HttpServer) -> None:
    """Apprise's plugins stop reading after 4 s and call that a plain failure; the
    provider lets its own, longer timeout end the wait instead, so a slow service
    is reported as possibly delivered, not as safely failed."""
    http_server.script("/slow", Reply(200, delay=6.0))
    with AppriseProvider(urls=[json_url(http_server, "/slow")], timeout=4.5) as provider:
        result = provider.send(Message("team", "hello"))
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT


def test_a_read_timeout_the_url_sets_is_kept(http_server: HttpServer) -> None:
    """``rto=`` in the URL is the user's word: a reply slower than that is a failure."""
    http_server.script("/slow", Reply(200, delay=3.0))
    url = json_url(http_server, "/slow", query="rto=0.2")
    with AppriseProvider(urls=[url], timeout=2.0) as provider:
        result = provider.send(Message("team", "hello"))
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_a_timeout_beside_a_failure_is_still_a_timeout(http_server: HttpServer) -> None:
    """TIMEOUT wins: the caller must know the message may have gone out somewhere."""
    http_server.script("/slow", Reply(200, delay=3.0))
    http_server.script("/broken", Reply(500))
    urls = [json_url(http_server, "/slow"), json_url(http_server, "/broken")]
    with AppriseProvider(urls=urls, timeout=0.5) as provider:
        result = provider.send(Message("team", "hello"))
    assert result.error is not None and result.error.code is ErrorCode.TIMEOUT
    statuses = [report["status"] for report in result.error.details["urls"]]
    assert statuses == ["timeout", "failed"]


def test_an_optional_url_may_fail_without_failing_the_send(http_server: HttpServer) -> None:
    http_server.script("/extra", Reply(500))
    urls = [json_url(http_server, "/main"), json_url(http_server, "/extra", query="optional=yes")]
    with AppriseProvider(urls=urls) as provider:
        result = provider.send(Message("team", "hello"))
    assert result.success
    extra = result.details["urls"][1]
    assert extra["status"] == "failed" and extra["optional"] is True


PASSWORD, TOKEN = "pw-9f8e7d6c5b", "tok-1a2b3c4d5e6f"


def secret_url(server: HttpServer) -> str:
    return json_url(server, auth=f"alerts:{PASSWORD}@", query=f"+X-Api-Token={TOKEN}")


def test_url_secrets_stay_out_of_results_even_when_the_service_echoes_them(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    http_server.script("/hook", Reply(401, f"bad credentials {PASSWORD} {TOKEN}".encode()))
    caplog.set_level(logging.DEBUG, logger="broadcastio")
    with AppriseProvider(urls=[secret_url(http_server)], name="alerts") as provider:
        result = provider.send(Message("team", "hello"))
        health = provider.health()
    (request,) = http_server.requests
    assert request.header("X-Api-Token") == TOKEN  # the secret did reach the service
    ours = [record.getMessage() for record in caplog.records if record.name == "broadcastio"]
    shown = repr(result) + repr(health) + repr(provider.settings) + " ".join(ours)
    assert PASSWORD not in shown and TOKEN not in shown
    assert result.error is not None
    assert result.error.details["urls"][0]["url"].startswith("json://alerts:")


def test_url_secrets_stay_out_of_every_log_line(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Apprise's own logger included: its secure logging is on, and we log shown forms only."""
    http_server.script("/hook", Reply(500, b"try later"))
    caplog.set_level(logging.DEBUG)
    with AppriseProvider(urls=[secret_url(http_server)], name="alerts") as provider:
        provider.send(Message("team", "hello"))
    assert caplog.records
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text


def test_a_token_in_the_path_stays_out_of_debug_lines(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Mattermost's webhook token is a path segment: Apprise prints the endpoint at debug
    level and urllib3 the request line, both of which ``broadcastio -vv`` shows."""
    token = "mmtoken4f9e2a7c1b"
    host = http_server.url.split("://", 1)[1]
    caplog.set_level(logging.DEBUG)
    with AppriseProvider(urls=[f"mmost://{host}/{token}"]) as provider:
        result = provider.send(Message("team", "hello"))
    assert result.success, result.error
    (request,) = http_server.requests
    assert request.path == f"/hooks/{token}"  # the token did reach the service
    assert "POST /hooks/***" in caplog.text
    assert token not in caplog.text


def test_a_closed_provider_sends_nothing(http_server: HttpServer) -> None:
    provider = AppriseProvider(urls=[json_url(http_server)])
    provider.close()
    provider.close()
    result = provider.send(Message("team", "hello"))
    assert result.error is not None and result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "closed" in result.error.message
    assert not provider.health().ready
    assert http_server.requests == []


def test_health_is_ready_and_names_the_services_without_contacting_them(
    http_server: HttpServer, smtp_server: SmtpServer
) -> None:
    with AppriseProvider(urls=[json_url(http_server), mailto_url(smtp_server)]) as provider:
        health = provider.health()
    assert health.ready
    assert health.details["services"] == ["JSON", "E-Mail"]
    assert http_server.requests == [] and smtp_server.messages == []


PATH_SECRET = "fn-7c1e9a2b44d0"
CODE_SECRET = "code-5f3e2d1c0b"


@pytest.mark.parametrize("scheme", ["json", "xml", "form"])
def test_a_generic_url_path_and_its_query_values_stay_out_of_results_and_logs(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    # An incoming-webhook or function URL: the path (and ?code=) is the credential.
    http_server.script(f"/api/{PATH_SECRET}", Reply(500, b"try later"))
    host = http_server.url.split("://", 1)[1]
    url = f"{scheme}://{host}/api/{PATH_SECRET}?-code={CODE_SECRET}"
    caplog.set_level(logging.DEBUG)

    with AppriseProvider(urls=[url], name="alerts") as provider:
        result = provider.send(Message("team", "hello"))
        health = provider.health()

    (request,) = http_server.requests
    assert request.path == f"/api/{PATH_SECRET}?code={CODE_SECRET}"  # it did reach the server
    assert result.error is not None
    (report,) = result.error.details["urls"]
    assert report["url"] == f"{scheme}://{host}/***?-code=***"
    shown = repr(result) + repr(health) + repr(provider.settings) + str(provider.urls)
    assert caplog.records
    for text in (shown, caplog.text):
        assert PATH_SECRET not in text and CODE_SECRET not in text


@pytest.mark.parametrize("scheme", ["jsons", "xmls", "forms"])
def test_a_secure_generic_url_shows_scheme_and_host_only(scheme: str) -> None:
    provider = AppriseProvider(urls=[f"{scheme}://ops:pw-77aa88@hooks.example.com/{PATH_SECRET}"])

    (url,) = provider.urls
    assert str(url) == f"{scheme}://ops:****@hooks.example.com/***"
    assert PATH_SECRET not in repr(provider.settings) + str(provider.health().details)
    provider.close()

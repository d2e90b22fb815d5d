"""WhatsAppProvider against a scripted HTTP server: every answer becomes a result."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import socket

import pytest

from broadcastio import (
    Attachment,
    ConfigurationError,
    ErrorCode,
    Message,
    MessageMetadata,
    Orchestrator,
    RetryPolicy,
)
from broadcastio_whatsapp import API_KEY_ENV, WhatsAppProvider, WhatsAppSettings, idempotency_key

MESSAGE = Message("+15551234567", "hello")


def provider_for(server, **settings) -> WhatsAppProvider:
    return WhatsAppProvider(WhatsAppSettings(base_url=server.url, api_key="k", **settings))


def error_body(code: str, message: str = "m", **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def test_success_sends_the_documented_request(scripted_server) -> None:
    scripted_server.script(201, {"id": "wamid.1", "to": "15551234567@c.us", "ack": "PENDING"})
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.success and result.message_id == "wamid.1"
    assert result.details == {"to": "15551234567@c.us", "ack": "PENDING", "replayed": False}
    (request,) = scripted_server.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/messages")
    assert request["json"] == {"to": "+15551234567", "text": "hello"}
    assert request["headers"]["X-Api-Key"] == "k"
    assert request["headers"]["Idempotency-Key"] == idempotency_key(MESSAGE)


def test_replay_is_reported(scripted_server) -> None:
    scripted_server.script(201, {"id": "wamid.1"}, {"Idempotency-Replay": "true"})
    assert provider_for(scripted_server).send(MESSAGE).details["replayed"] is True


def test_attachment_goes_inline_as_base64(scripted_server, tmp_path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    provider_for(scripted_server).send(Message("+1555", "caption", attachment=Attachment(path)))
    media = scripted_server.requests[0]["json"]["media"]
    assert media["filename"] == "chart.png" and media["mimetype"] == "image/png"
    assert base64.b64decode(media["data"]) == path.read_bytes()


@pytest.mark.parametrize(
    ("status", "body", "headers", "code", "details"),
    [
        (
            400,
            error_body("VALIDATION_FAILED", field="text"),
            {},
            "INVALID_MESSAGE",
            {"field": "text"},
        ),
        (
            400,
            error_body("VALIDATION_FAILED", field="to"),
            {},
            "INVALID_RECIPIENT",
            {"field": "to"},
        ),
        (401, error_body("UNAUTHORIZED"), {}, "AUTHENTICATION_FAILED", {}),
        (403, error_body("FORBIDDEN"), {}, "AUTHENTICATION_FAILED", {}),
        (409, error_body("IDEMPOTENCY_IN_FLIGHT"), {}, "TIMEOUT", {}),
        (
            409,
            error_body("SEND_OUTCOME_UNKNOWN"),
            {"Idempotency-Replay": "true"},
            "TIMEOUT",
            {"outcome": "unknown", "replayed": True},
        ),
        (413, error_body("MEDIA_TOO_LARGE"), {}, "INVALID_MESSAGE", {}),
        (422, error_body("NOT_ON_WHATSAPP"), {}, "INVALID_RECIPIENT", {}),
        (422, error_body("IDEMPOTENCY_KEY_MISMATCH"), {}, "INVALID_MESSAGE", {}),
        (
            429,
            error_body("QUEUE_FULL", retryAfter=3),
            {"Retry-After": "4"},
            "RATE_LIMITED",
            {"retry_after": 4.0},
        ),
        (429, error_body("RATE_LIMITED", retryAfter=3), {}, "RATE_LIMITED", {"retry_after": 3.0}),
        (503, error_body("NOT_READY", state="QR"), {}, "PROVIDER_UNAVAILABLE", {"state": "QR"}),
        (504, error_body("SEND_TIMEOUT"), {}, "TIMEOUT", {}),
        (502, error_body("SEND_FAILED", "evaluation failed"), {}, "PROVIDER_REJECTED", {}),
        (502, error_body("SEND_UNCONFIRMED"), {}, "TIMEOUT", {}),
        (500, error_body("INTERNAL"), {}, "PROVIDER_REJECTED", {}),
        (418, error_body("TEAPOT"), {}, "PROVIDER_REJECTED", {}),
    ],
)
def test_status_mapping(scripted_server, status, body, headers, code, details) -> None:
    scripted_server.script(status, body, headers)
    result = provider_for(scripted_server).send(MESSAGE)
    assert not result.success
    assert result.error.code == code
    assert result.error.details["http_status"] == status
    assert result.error.details["bridge_code"] == body["error"]["code"]
    for key, value in details.items():
        assert result.error.details[key] == value
    if code in ("AUTHENTICATION_FAILED", "INVALID_RECIPIENT") and status != 422:
        # Reworded to say what to fix; the bridge's words are kept beside it.
        assert result.error.details["bridge_message"] == body["error"]["message"]
    else:
        assert result.error.message == body["error"]["message"]


def test_retry_after_as_http_date(scripted_server) -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    scripted_server.script(
        429, error_body("QUEUE_FULL"), {"Retry-After": email.utils.format_datetime(when)}
    )
    retry_after = provider_for(scripted_server).send(MESSAGE).error.details["retry_after"]
    assert 25 <= retry_after <= 31


@pytest.mark.parametrize("body", [b"<html>oops</html>", {"to": "x"}, {"id": ""}, [1, 2]])
def test_malformed_success_body_is_rejected_with_details(scripted_server, body) -> None:
    scripted_server.script(201, body)
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error.code is ErrorCode.PROVIDER_REJECTED
    assert "malformed" in result.error.message
    assert result.error.details["http_status"] == 201
    assert "body" in result.error.details


def test_non_json_error_body_keeps_the_status_meaning(scripted_server) -> None:
    scripted_server.script(503, b"<html>bad gateway</html>")
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["body"] == "<html>bad gateway</html>"
    assert result.error.details["bridge_code"] is None


def test_connection_refused_is_provider_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = WhatsAppProvider(base_url=f"http://127.0.0.1:{port}", api_key="k")
    result = provider.send(MESSAGE)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert result.error.details["exception_type"] == "ConnectionError"
    assert "unreachable: Connection refused" in result.error.message
    health = provider.health()
    assert not health.ready
    assert health.details["reason"] == (
        f"bridge unreachable at http://127.0.0.1:{port}: Connection refused"
    )


def test_read_timeout_is_timeout_and_says_how_long(scripted_server) -> None:
    scripted_server.script(201, {"id": "late"}, delay=0.5)
    result = provider_for(scripted_server, timeout=(1.0, 0.1)).send(MESSAGE)
    assert result.error.code is ErrorCode.TIMEOUT
    assert "did not answer in 0.1 s" in result.error.message
    assert "may have been sent" in result.error.message
    assert "unreachable" not in result.error.message
    assert result.error.details["timeout_seconds"] == 0.1


def test_connections_are_reused(scripted_server) -> None:
    provider = provider_for(scripted_server)
    for _ in range(20):
        assert provider.send(MESSAGE).success
    assert len(scripted_server.connections) == 1


def test_api_key_from_the_environment(scripted_server, monkeypatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    WhatsAppProvider(base_url=scripted_server.url).send(MESSAGE)
    assert scripted_server.requests[0]["headers"]["X-Api-Key"] == "from-env"


def test_missing_api_key_says_how_to_set_it(scripted_server, monkeypatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    scripted_server.script(401, error_body("UNAUTHORIZED", "Missing X-Api-Key header"))
    result = WhatsAppProvider(base_url=scripted_server.url).send(MESSAGE)
    assert "X-Api-Key" not in scripted_server.requests[0]["headers"]
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert result.error.message == (
        f"no API key is configured and the bridge requires one (set api_key / {API_KEY_ENV})"
    )
    assert result.error.details["bridge_message"] == "Missing X-Api-Key header"


@pytest.mark.parametrize("status", [401, 403])
def test_refused_api_key_names_the_setting_to_fix(scripted_server, status) -> None:
    scripted_server.script(status, error_body("UNAUTHORIZED", "Invalid API key"))
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error.code is ErrorCode.AUTHENTICATION_FAILED
    assert result.error.message == f"the bridge refused the API key (set api_key / {API_KEY_ENV})"


def test_idempotency_key_is_stable_per_message_and_recipient() -> None:
    metadata = MessageMetadata(reference_id="campaign-7")
    first = Message("+1555", "a", metadata=metadata)
    assert idempotency_key(first) == idempotency_key(first)
    assert idempotency_key(first) == idempotency_key(Message("+1555", "a", metadata=metadata))
    assert idempotency_key(first) != idempotency_key(Message("+1666", "a", metadata=metadata))
    assert idempotency_key(first) != idempotency_key(Message("+1555", "a"))
    assert len(idempotency_key(first)) <= 255


@pytest.mark.parametrize(
    ("state", "ready", "reason"),
    [
        ("READY", True, None),
        ("QR", False, "QR: scan the code"),
        ("STARTING", False, "starting"),
        ("FAILED", False, "failed"),
    ],
)
def test_health_reflects_the_session_state(scripted_server, state, ready, reason) -> None:
    scripted_server.script(
        200,
        {
            "status": "ok",
            "state": state,
            "ready": state == "READY",
            "since": "2026-11-22T00:00:00Z",
            "lastError": None,
        },
    )
    health = provider_for(scripted_server).health()
    assert health.ready is ready
    assert health.details["state"] == state
    if reason:
        assert reason in health.details["reason"]
    (request,) = scripted_server.requests
    # The authenticated route, so a wrong key cannot look ready.
    assert request["path"] == "/v1/session"
    assert request["headers"]["X-Api-Key"] == "k"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b"nope", "answered HTTP 500 with a body that is not JSON"),
        (200, b"<html>a web server</html>", "is base_url the broadcastio bridge?"),
        (200, {"status": "ok"}, "answered without a session state"),
        (404, error_body("NOT_FOUND", "Route GET /v1/session not found"), "HTTP 404"),
        (500, error_body("INTERNAL", "Internal error"), "HTTP 500: Internal error"),
    ],
)
def test_health_with_a_bad_answer_says_what_came_back(scripted_server, status, body, reason):
    scripted_server.script(status, body)
    health = provider_for(scripted_server).health()
    assert not health.ready
    assert reason in health.details["reason"]
    assert health.details["http_status"] == status


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"base_url": "ftp://x"}, "base_url must be an http"),
        ({"base_url": "http://127.0.0.1:3000/?a=1"}, "query or fragment"),
        ({"timeout": [0, 5]}, r"timeout \(connect\) must be > 0"),
        ({"timeout": [5, 6, 7]}, "setting timeout"),
        ({"base_url": "http://h:99999"}, "invalid port"),
        ({"timeout": 5}, "setting timeout"),
        ({"pool_size": 0}, "pool_size must be between 1 and 1000, got 0"),
        ({"api_key": "  "}, "api_key"),
        ({"retry_policy": {"max_attempts": 0}}, "max_attempts"),
        ({"base_url": "http://x", "colour": "red"}, "unknown field"),
    ],
)
def test_bad_settings_are_configuration_errors(settings, match) -> None:
    with pytest.raises(ConfigurationError, match=f"provider 'whatsapp'.*{match}"):
        Orchestrator.from_plugins(["whatsapp"], settings={"whatsapp": settings})


def test_retry_policy_setting_applies_to_the_provider() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["whatsapp"],
        settings={"whatsapp": {"retry_policy": {"max_attempts": 3, "retry_on": ["TIMEOUT"]}}},
    )
    assert orchestrator.providers[0].retry_policy == RetryPolicy(
        max_attempts=3, retry_on=["TIMEOUT"]
    )


def test_base_url_from_the_environment(scripted_server, monkeypatch) -> None:
    from broadcastio_whatsapp import BASE_URL_ENV

    monkeypatch.setenv(BASE_URL_ENV, scripted_server.url + "/")
    provider = WhatsAppProvider(api_key="k")
    assert provider.base_url == scripted_server.url
    assert provider.send(MESSAGE).success
    monkeypatch.delenv(BASE_URL_ENV)
    assert WhatsAppProvider().base_url == "http://127.0.0.1:3000"


def test_bad_base_url_in_the_environment_is_named(monkeypatch) -> None:
    from broadcastio_whatsapp import BASE_URL_ENV

    monkeypatch.setenv(BASE_URL_ENV, "localhost:3000")
    with pytest.raises(ConfigurationError, match=f"provider 'whatsapp'.*{BASE_URL_ENV} must be"):
        Orchestrator.from_plugins(["whatsapp"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": 5}, "timeout"),
        ({"timeout": ("a", "b")}, r"timeout \(connect\) must be a finite number"),
        ({"timeout": (float("inf"), 1)}, "finite number"),
        ({"pool_size": "10"}, "pool_size must be an integer"),
        ({"pool_size": 2.5}, "pool_size must be an integer"),
        ({"health_timeout": None}, "health_timeout must be a finite number"),
        ({"api_key": 5}, "api_key must be a string"),
        ({"api_key": "abc\n"}, "control characters"),
        ({"base_url": 5}, "base_url must be a string"),
        ({"retry_policy": {"max_attempts": 2}}, "retry_policy must be a RetryPolicy"),
    ],
)
def test_direct_settings_construction_names_the_field(kwargs, match) -> None:
    from broadcastio import ValidationError

    with pytest.raises(ValidationError, match=match):
        WhatsAppSettings(**kwargs)


def test_provider_constructor_rejects_unknown_and_wrong_settings() -> None:
    with pytest.raises(
        ConfigurationError, match="unknown WhatsAppProvider setting.*bogus.*known: base_url"
    ):
        WhatsAppProvider(bogus=1)
    with pytest.raises(ConfigurationError, match="must be a WhatsAppSettings"):
        WhatsAppProvider({"base_url": "http://x"})  # type: ignore[arg-type]


def test_attachment_that_vanished_is_a_failed_attempt(scripted_server, tmp_path) -> None:
    path = tmp_path / "gone.pdf"
    path.write_bytes(b"x")
    message = Message("+1555", "see file", attachment=Attachment(path))
    path.unlink()
    result = provider_for(scripted_server).send(message)
    assert result.error.code is ErrorCode.ATTACHMENT_NOT_FOUND
    assert result.error.details["path"] == str(path)
    assert scripted_server.requests == []


def test_health_gives_up_after_health_timeout(scripted_server) -> None:
    scripted_server.script(200, {"state": "READY", "ready": True}, delay=1.0)
    health = provider_for(scripted_server, health_timeout=0.1).health()
    assert not health.ready
    assert (
        health.details["reason"] == f"the bridge at {scripted_server.url} did not answer in 0.1 s"
    )
    assert health.details["exception_type"] == "ReadTimeout"


def test_connection_reset_is_provider_unavailable(scripted_server) -> None:
    scripted_server.script(201, {"id": "never"}, reset=True)
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE


def test_concurrent_sends_share_a_bounded_pool(scripted_server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    provider = provider_for(scripted_server, pool_size=4)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: provider.send(MESSAGE), range(200)))
    assert all(r.success for r in results)
    assert len(scripted_server.requests) == 200
    # urllib3 keeps at most pool_size idle connections; a few more may be opened
    # while all are busy, but never one per message.
    assert len(scripted_server.connections) <= 16


def test_replayed_failure_is_marked(scripted_server) -> None:
    scripted_server.script(504, error_body("SEND_TIMEOUT"), {"Idempotency-Replay": "true"})
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error.code is ErrorCode.TIMEOUT
    assert result.error.details["replayed"] is True


def test_send_and_health_share_one_connection(scripted_server) -> None:
    provider = provider_for(scripted_server)
    for _ in range(5):
        scripted_server.script(200, {"state": "READY", "ready": True})
        assert provider.health().ready
        scripted_server.script(201, {"id": "x"})
        assert provider.send(MESSAGE).success
    # Error answers give the connection back too.
    scripted_server.script(401, error_body("UNAUTHORIZED"))
    provider.health()
    scripted_server.script(503, b"<html>down</html>")
    provider.send(MESSAGE)
    scripted_server.script(200, {"state": "READY", "ready": True})
    provider.health()
    assert len(scripted_server.requests) == 13
    assert len(scripted_server.connections) == 1


def test_a_closed_provider_opens_no_new_connection(scripted_server) -> None:
    with provider_for(scripted_server) as provider:
        assert provider.send(MESSAGE).success
    result = provider.send(MESSAGE)
    health = provider.health()
    assert len(scripted_server.requests) == 1
    assert result.error.code is ErrorCode.PROVIDER_UNAVAILABLE
    assert "was closed" in result.error.message
    assert not health.ready and "was closed" in health.details["reason"]

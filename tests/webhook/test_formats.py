"""Each format's body, as the receiving server got it, against the shape its service documents.

The shapes checked here are the ones each service's incoming-webhook page
documents: Slack ``{"text"}``; Discord's Execute Webhook ``content`` (at most
2,000 characters) and ``allowed_mentions``; Teams' message with one Adaptive
Card attachment; Mattermost ``{"text"}``; Google Chat ``{"text"}``; ntfy's
JSON publishing (``topic``, ``message``, ``title``, ``priority`` 1–5,
``tags``) posted to the server's root.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_http import HttpServer

from broadcastio import Attachment, ErrorCode, Message, ValidationError
from broadcastio_webhook import LIMITS, WebhookProvider, WebhookSettings

TEXT = "Disk full on db1 & <!channel> <@U123>"


def post(server: HttpServer, path: str, message: Message, **settings: Any) -> dict[str, Any]:
    """Send ``message`` through a provider posting to ``server``; the body the server read."""
    with WebhookProvider(url=server.url + path, **settings) as provider:
        result = provider.send(message)
    assert result.success, result.error
    (request,) = server.requests
    assert request.method == "POST"
    assert request.header("Content-Type") == "application/json"
    body: dict[str, Any] = request.json()
    return body


def test_json_is_the_documented_default_body(server: HttpServer) -> None:
    message = Message(
        "ops-team",
        "Backup failed",
        title="db1",
        metadata={"priority": 8, "tags": ["backup"], "host": "db1", "extra": {"n": 3}},
    )
    body = post(server, "/hook", message)
    assert body == {
        "text": "Backup failed",
        "title": "db1",
        "reference_id": message.metadata.reference_id,
        "recipient": "ops-team",
        "priority": 8,
        "tags": ["backup"],
        "metadata": {"host": "db1", "n": 3},
    }


def test_json_carries_an_attachment_as_base64(server: HttpServer) -> None:
    content = bytes(range(256))
    message = Message("ops", None, attachment=Attachment.from_bytes(content, "dump.bin"))
    body = post(server, "/hook", message)
    assert body["text"] is None and body["title"] is None
    assert body["attachment"]["filename"] == "dump.bin"
    assert body["attachment"]["mime_type"] == "application/octet-stream"
    assert base64.b64decode(body["attachment"]["data"]) == content


def test_slack_text_is_escaped_and_titled(server: HttpServer) -> None:
    body = post(server, "/services/T/B/X", Message("ops", TEXT, title="Alert <1>"), format="slack")
    assert body == {
        "text": "*Alert &lt;1&gt;*\nDisk full on db1 &amp; &lt;!channel&gt; &lt;@U123&gt;"
    }


def test_discord_content_pings_nobody(server: HttpServer) -> None:
    body = post(
        server, "/api/webhooks/1/x", Message("ops", "@everyone up", title="T"), format="discord"
    )
    assert body == {"content": "**T**\n@everyone up", "allowed_mentions": {"parse": []}}


def test_teams_is_a_message_with_one_adaptive_card(server: HttpServer) -> None:
    body = post(
        server, "/workflows/x", Message("ops", "Backup failed", title="db1"), format="teams"
    )
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title, text = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": "db1",
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    assert text == {"type": "TextBlock", "text": "Backup failed", "wrap": True}


def test_mattermost_and_google_chat_take_text(server: HttpServer) -> None:
    body = post(
        server, "/hooks/x", Message("ops", "Backup failed", title="db1"), format="mattermost"
    )
    assert body == {"text": "**db1**\nBackup failed"}
    server.clear()
    body = post(
        server,
        "/v1/spaces/AAA/messages",
        Message("ops", "Backup failed", title="db1"),
        format="googlechat",
    )
    assert body == {"text": "*db1*\nBackup failed"}


def test_ntfy_posts_json_with_the_topic_to_the_server_root(server: HttpServer) -> None:
    message = Message(
        "ops", "Backup failed", title="db1", metadata={"priority": 10, "tags": ["warning"]}
    )
    body = post(server, "/prefix/alerts-7f3a", message, format="ntfy")
    assert server.requests[0].path == "/prefix/"
    assert body == {
        "topic": "alerts-7f3a",
        "message": "Backup failed",
        "title": "db1",
        "priority": 5,
        "tags": ["warning"],
    }


@pytest.mark.parametrize(("priority", "ntfy"), [(1, 1), (2, 1), (5, 3), (6, 3), (9, 5), (10, 5)])
def test_ntfy_priorities(server: HttpServer, priority: int, ntfy: int) -> None:
    body = post(server, "/t", Message("ops", "x", metadata={"priority": priority}), format="ntfy")
    assert body["priority"] == ntfy and "title" not in body and "tags" not in body


def test_a_template_fills_json_values(server: HttpServer) -> None:
    template = (
        '{"event": "alert", "summary": $title, "body": $text, "meta": $metadata, "n": $priority}'
    )
    message = Message("ops", 'He said "hi"\n$text', title="db1", metadata={"k": [1, None]})
    body = post(server, "/hook", message, format="template", template=template)
    assert body == {
        "event": "alert",
        "summary": "db1",
        "body": 'He said "hi"\n$text',
        "meta": {"k": [1, None]},
        "n": 5,
    }


@pytest.mark.parametrize(
    "preset", ["slack", "discord", "teams", "mattermost", "googlechat", "ntfy"]
)
def test_presets_refuse_an_attachment_so_the_chain_falls_back(
    server: HttpServer, preset: str
) -> None:
    message = Message("ops", "see file", attachment=Attachment.from_bytes(b"x", "a.txt"))
    with WebhookProvider(url=server.url + "/t", format=preset) as provider:
        result = provider.send(message)
    assert result.error is not None and result.error.code is ErrorCode.INVALID_MESSAGE
    assert "a.txt" in result.error.message
    assert server.requests == []


def test_metadata_that_is_not_json_is_an_invalid_message(server: HttpServer) -> None:
    message = Message("ops", "x", metadata={"when": object()})
    with WebhookProvider(url=server.url + "/t") as provider:
        result = provider.send(message)
    assert result.error is not None and result.error.code is ErrorCode.INVALID_MESSAGE
    assert server.requests == []


@pytest.mark.parametrize(
    ("template", "words"),
    [
        ('{"text": "Alert: $text"}', "never inside quotes"),
        ('{"text": $body}', "$body, which is not a placeholder"),
        ('{"text": $text, "cost": "5$"}', "write $$ for a literal $"),
        ("[$text", "not JSON"),
    ],
)
def test_a_bad_template_is_refused_with_the_setting_named(template: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings(url="https://example.com/x", format="template", template=template)
    assert caught.value.field == "template"
    assert words in caught.value.message


# -- limits, over generated text ------------------------------------------------------

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=3000
).filter(str.strip)
titles = st.none() | st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=80
).filter(str.strip)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _body(message: Message, format_name: str) -> dict[str, Any]:
    provider = WebhookProvider(url="https://hooks.example.com/x/topic", format=format_name)
    try:
        data: dict[str, Any] = json.loads(provider.build_body(message).content)
        return data
    finally:
        provider.close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, title=titles)
def test_discord_content_never_exceeds_2000_units(text: str, title: str | None) -> None:
    message = Message("ops", text * 2, title=title)
    content = _body(message, "discord")["content"]
    assert _utf16_units(content) <= 2000
    composed = message.content if not message.title else f"**{message.title}**\n{message.content}"
    if _utf16_units(composed) <= 2000:
        assert content == composed
    else:
        assert content.endswith("…") and composed.startswith(content[:-1])


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_byte_limits_hold_and_cut_whole_characters(text: str) -> None:
    long_text = text * 12
    for format_name, key in (("ntfy", "message"), ("googlechat", "text")):
        limit, unit = LIMITS[format_name]
        assert unit == "utf8"
        sent = _body(Message("ops", long_text), format_name)[key]
        assert len(sent.encode("utf-8")) <= limit
        assert sent == long_text or long_text.startswith(sent[:-1])


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=texts,
    title=titles,
    extra=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(
            lambda k: k not in ("priority", "reference_id", "tags", "extra")
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=4,
    ),
)
def test_json_and_template_bodies_carry_any_text_title_and_metadata(
    text: str, title: str | None, extra: dict[str, Any]
) -> None:
    message = Message("ops", text, title=title, metadata={"extra": extra})
    body = _body(message, "json")
    assert body["text"] == message.content
    assert body["title"] == message.title
    assert body["metadata"] == extra
    provider = WebhookProvider(
        url="https://hooks.example.com/x",
        format="template",
        template='{"t": $text, "h": $title, "m": $metadata, "r": $reference_id}',
    )
    with provider:
        rendered = json.loads(provider.build_body(message).content)
    assert rendered == {
        "t": message.content,
        "h": message.title,
        "m": extra,
        "r": message.metadata.reference_id,
    }

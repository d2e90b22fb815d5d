"""The body of each ``format``: broadcastio's own JSON, the chat services' presets, a template.

Every body is JSON, UTF-8, built from the message alone (no network, no
clock), so what a message becomes can be checked without a server
(``WebhookProvider.build_body``). Each preset follows the body its service
documents for an incoming webhook and respects its size limit by
*truncating* the text (ending it with ``…``) rather than splitting it over
several posts: one attempt is one request, so a failure half-way through a
split can never leave part of a message delivered and the rest retried.
A truncated message says so in the result's details (``truncated``).
"""

from __future__ import annotations

import base64
import json
import re
import string
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from broadcastio import ErrorCode

__all__ = [
    "FORMATS",
    "LIMITS",
    "PLACEHOLDERS",
    "TEMPLATE",
    "Body",
    "BodyError",
    "MessageFields",
    "build_body",
    "ntfy_target",
    "template_problem",
    "truncate",
]

TEMPLATE = "template"
FORMATS = ("json", "slack", "discord", "teams", "mattermost", "googlechat", "ntfy", TEMPLATE)

LIMITS: Mapping[str, tuple[int, str]] = {
    # Slack truncates a message's text past 40,000 characters itself; doing it
    # here makes the cut visible in the result.
    "slack": (40_000, "chars"),
    # Discord refuses `content` over 2,000 characters (counted in UTF-16 units).
    "discord": (2_000, "utf16"),
    # Teams refuses a message over about 28 KB; the card's frame and the
    # title need room, so the text gets 24,000 bytes.
    "teams": (24_000, "utf8"),
    # Mattermost's default maximum post size is 16,383 characters.
    "mattermost": (16_383, "chars"),
    # Google Chat: 32,000 bytes per message, the JSON around the text included.
    "googlechat": (30_000, "utf8"),
    # ntfy: 4,096 bytes of message; longer ones become a file attachment.
    "ntfy": (4_096, "utf8"),
}
"""Per preset: how much text fits, and in which unit (characters, UTF-16 units, UTF-8 bytes)."""

PLACEHOLDERS = (
    "text",
    "title",
    "reference_id",
    "recipient",
    "priority",
    "tags",
    "metadata",
    "attachment",
)
"""What a template may use, each as ``$name``; each is replaced by a JSON value."""

_ELLIPSIS = "…"


class BodyError(Exception):
    """A message this format cannot express; becomes a failed ``DeliveryResult``."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.frozen
class MessageFields:
    """What a body is made of, taken once from the ``Message``."""

    text: str | None
    title: str | None
    reference_id: str
    recipient: str | None
    priority: int
    tags: tuple[str, ...]
    extra: Mapping[str, Any]
    attachment: tuple[str, str, bytes] | None = None
    """``(filename, mime_type, content)``, read before the body is built."""


@attrs.frozen
class Body:
    """A request body, its media type, where it goes, and whether the text was cut."""

    content: bytes
    url: str
    truncated: bool = False
    content_type: str = "application/json"


def truncate(text: str, limit: int, unit: str) -> tuple[str, bool]:
    """``text`` cut to ``limit`` (in ``unit``) with a closing ``…``, and whether it was cut.

    The cut never splits a character (nor a UTF-16 surrogate pair).
    """
    if unit == "chars":
        if len(text) <= limit:
            return text, False
        return text[: limit - 1] + _ELLIPSIS, True
    if unit == "utf16":
        encoded = text.encode("utf-16-le")
        if len(encoded) <= 2 * limit:
            return text, False
        # errors="ignore" drops half a surrogate pair left at the cut.
        return encoded[: 2 * (limit - 1)].decode("utf-16-le", "ignore") + _ELLIPSIS, True
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, False
    room = limit - len(_ELLIPSIS.encode("utf-8"))
    return encoded[:room].decode("utf-8", "ignore") + _ELLIPSIS, True


def _dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot hold is the message's fault, said so."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
            "utf-8"
        )
    except (TypeError, ValueError) as exc:
        raise BodyError(
            ErrorCode.INVALID_MESSAGE,
            f"the message's metadata cannot be sent as JSON: {exc}",
        ) from None


def _no_attachment(fields: MessageFields, format_name: str) -> None:
    """Presets post text to a chat; none of their incoming webhooks takes a file.

    Refusing (``INVALID_MESSAGE``) instead of dropping the file silently lets
    the orchestrator fall back to a channel that carries attachments (email).
    """
    if fields.attachment is not None:
        raise BodyError(
            ErrorCode.INVALID_MESSAGE,
            f"the {format_name} format cannot carry an attachment "
            f'({fields.attachment[0]!r}); use format = "json" or another channel',
        )


def _composed(fields: MessageFields, bold: Callable[[str], str]) -> str:
    """The title as a bold first line (the service's own markup), then the text."""
    text = fields.text or ""
    if not fields.title:
        return text
    return f"{bold(fields.title)}\n{text}" if text else bold(fields.title)


_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}…\Z")


def _slack(fields: MessageFields) -> tuple[dict[str, Any], bool]:
    # Slack reads <!channel>, <@U123> and <url|label> in text as commands and
    # links; escaping &, < and > (as Slack's formatting guide asks) makes a
    # message's text appear as written and never ping a whole channel.
    def escape(text: str) -> str:
        return text.translate(_SLACK_ESCAPES)

    title = escape(fields.title) if fields.title else None
    text = escape(fields.text) if fields.text else None
    composed = _composed(attrs.evolve(fields, title=title, text=text), lambda t: f"*{t}*")
    limit, unit = LIMITS["slack"]
    fitted, cut = truncate(composed, limit, unit)
    if cut:
        fitted = _PARTIAL_ENTITY.sub(_ELLIPSIS, fitted)
    return {"text": fitted}, cut


def _discord(fields: MessageFields) -> tuple[dict[str, Any], bool]:
    limit, unit = LIMITS["discord"]
    content, cut = truncate(_composed(fields, lambda t: f"**{t}**"), limit, unit)
    # No @everyone, @here, role or user pings from a message's text.
    return {"content": content, "allowed_mentions": {"parse": []}}, cut


def _teams(fields: MessageFields) -> tuple[dict[str, Any], bool]:
    limit, unit = LIMITS["teams"]
    blocks: list[dict[str, Any]] = []
    if fields.title:
        blocks.append(
            {
                "type": "TextBlock",
                "text": fields.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            }
        )
    cut = False
    if fields.text:
        text, cut = truncate(fields.text, limit, unit)
        blocks.append({"type": "TextBlock", "text": text, "wrap": True})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": blocks,
    }
    body = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return body, cut


def _mattermost(fields: MessageFields) -> tuple[dict[str, Any], bool]:
    limit, unit = LIMITS["mattermost"]
    text, cut = truncate(_composed(fields, lambda t: f"**{t}**"), limit, unit)
    return {"text": text}, cut


def _googlechat(fields: MessageFields) -> tuple[dict[str, Any], bool]:
    limit, unit = LIMITS["googlechat"]
    text, cut = truncate(_composed(fields, lambda t: f"*{t}*"), limit, unit)
    return {"text": text}, cut


def ntfy_target(url: str) -> tuple[str, str] | None:
    """``(server URL to post to, topic)`` for an ntfy topic URL, ``None`` without a topic.

    ntfy's JSON publishing posts ``{"topic": ...}`` to the server's root, while
    users copy the topic's URL (``https://ntfy.sh/alerts``); the last path
    segment is the topic and the rest, which may include a path prefix of a
    self-hosted server behind a proxy, is where the JSON goes.
    """
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    base, _, topic = path.rpartition("/")
    if not topic:
        return None
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, base + "/", parts.query, "")), topic


def _ntfy_priority(priority: int) -> int:
    """broadcastio's 1–10 onto ntfy's 1–5, the default 5 onto ntfy's default 3."""
    return (priority + 1) // 2


def _ntfy(fields: MessageFields, topic: str) -> tuple[dict[str, Any], bool]:
    limit, unit = LIMITS["ntfy"]
    message, cut = truncate(fields.text or fields.title or "", limit, unit)
    body: dict[str, Any] = {
        "topic": topic,
        "message": message,
        "priority": _ntfy_priority(fields.priority),
    }
    if fields.title:
        body["title"] = fields.title
    if fields.tags:
        body["tags"] = list(fields.tags)
    return body, cut


def _values(fields: MessageFields) -> dict[str, Any]:
    """The documented default body's values, also what a template's placeholders stand for."""
    attachment = None
    if fields.attachment is not None:
        filename, mime_type, content = fields.attachment
        attachment = {
            "filename": filename,
            "mime_type": mime_type,
            "data": base64.b64encode(content).decode("ascii"),
        }
    return {
        "text": fields.text,
        "title": fields.title,
        "reference_id": fields.reference_id,
        "recipient": fields.recipient,
        "priority": fields.priority,
        "tags": list(fields.tags),
        "metadata": dict(fields.extra),
        "attachment": attachment,
    }


def _json(fields: MessageFields) -> dict[str, Any]:
    values = _values(fields)
    # "recipient when there is one": a per-contact URL is the address, and a
    # secret; it is never repeated in the body.
    for optional in ("recipient", "attachment"):
        if values[optional] is None:
            del values[optional]
    return values


def _render_template(template: str, values: Mapping[str, Any]) -> bytes:
    mapping = {name: _dumps(value).decode("utf-8") for name, value in values.items()}
    return string.Template(template).substitute(mapping).encode("utf-8")


_SAMPLE = MessageFields(
    text='A "quoted" line\nand another',
    title="Title",
    reference_id="ref-1",
    recipient=None,
    priority=5,
    tags=("tag",),
    extra={"key": ["value", 1, None]},
    attachment=None,
)


def template_problem(template: object) -> str | None:
    """Why ``template`` cannot make JSON bodies, or ``None`` when it can.

    Checked once, when the settings are built, by filling the template with
    sample values (quotes and a newline in the text included) and parsing the
    result: a placeholder inside a JSON string (``"Alert: $text"``), an unknown
    placeholder or a stray ``$`` is found in the configuration file, not at the
    first send.
    """
    if not isinstance(template, str):
        return f"must be a string, got {type(template).__name__}"
    known = ", ".join(f"${name}" for name in PLACEHOLDERS)
    try:
        rendered = _render_template(template, _values(_SAMPLE))
    except KeyError as exc:
        return f"uses ${exc.args[0]}, which is not a placeholder (known: {known})"
    except ValueError as exc:
        return f"has a '$' that starts no placeholder ({exc}); write $$ for a literal $"
    try:
        json.loads(rendered)
    except ValueError as exc:
        return (
            f"is not JSON once its placeholders are filled in ({exc}); each placeholder "
            'stands for a whole JSON value, e.g. {"message": $text}, never inside quotes'
        )
    return None


def build_body(
    format_name: str, fields: MessageFields, url: str, template: str | None = None
) -> Body:
    """The request for ``fields`` in ``format_name``, to be posted to ``url``.

    Raises ``BodyError`` for a message the format cannot express (an
    attachment in a preset, metadata that is not JSON, an ntfy URL without a
    topic).
    """
    if format_name == "json":
        return Body(_dumps(_json(fields)), url)
    if format_name == TEMPLATE:
        assert template is not None  # the settings require it for this format
        _dumps(_values(fields))  # metadata that is not JSON is said so, as for json
        return Body(_render_template(template, _values(fields)), url)
    _no_attachment(fields, format_name)
    if format_name == "ntfy":
        target = ntfy_target(url)
        if target is None:
            raise BodyError(
                ErrorCode.PROVIDER_MISCONFIGURED,
                "the ntfy format needs the topic's URL, like https://ntfy.sh/TOPIC",
            )
        body, cut = _ntfy(fields, target[1])
        return Body(_dumps(body), target[0], truncated=cut)
    builders: dict[str, Callable[[MessageFields], tuple[dict[str, Any], bool]]] = {
        "slack": _slack,
        "discord": _discord,
        "teams": _teams,
        "mattermost": _mattermost,
        "googlechat": _googlechat,
    }
    body, cut = builders[format_name](fields)
    return Body(_dumps(body), url, truncated=cut)

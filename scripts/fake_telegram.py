"""A fake of Telegram's Bot API on loopback, strict about requests, scriptable for errors.

The real Bot API cannot be reached from here, so the Telegram provider's tests
(and anyone trying the provider without a bot) point ``api_base`` at this
server instead. It checks each request the way the Bot API documents it and
answers a malformed one with ``400`` in the Bot API's own shape
(``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}``):

- the path is ``/bot<token>/<method>``: a malformed token is ``404 Not
  Found``, an unknown one ``401 Unauthorized``, an unknown method ``404``;
- ``getMe`` by GET or POST; ``sendMessage``, ``sendPhoto`` and
  ``sendDocument`` by POST only (stricter than Telegram, which also takes GET:
  the provider must never put a message in a URL);
- parameters as JSON, a URL-encoded form or ``multipart/form-data``; files
  only as multipart uploads in the method's field (``photo``, ``document``);
- ``chat_id`` an integer or ``@username``; ``text`` required, non-empty and at
  most 4,096 UTF-16 code units after entity parsing, a caption at most 1,024;
  ``parse_mode`` one of ``HTML``, ``MarkdownV2``, ``Markdown``, and the text
  must parse in it (tags Telegram supports, properly nested, ``<``/``&``
  escaped; MarkdownV2's reserved characters escaped, entities closed);
  ``entities`` inside the text; a photo a JPEG/PNG of at most 10 MB.

Chats can be made to fail as Telegram does (``missing_chats``: 400 "chat not
found"; ``blocked_chats``: 403 "bot was blocked by the user"), and the next
calls of a method can be scripted: ``server.script("sendMessage",
Scripted(429, "Too Many Requests: retry after 3", retry_after=3))``, a
dropped connection (``Scripted(drop=True)``), a slow answer
(``Scripted(delay=2)``), optionally after the message was delivered
(``deliver=True``, an ambiguous timeout). Every request is in ``calls``;
every delivered message in ``messages``.

Run it as a script for a server on a free port that prints its ``api_base``:
``python scripts/fake_telegram.py --token 123:TEST``.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import http.server
import json
import re
import socketserver
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["Call", "FakeTelegram", "Scripted", "SentMessage", "Upload", "visible_text"]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
PHOTO_MAX_BYTES = 10 * 1024 * 1024
DOCUMENT_MAX_BYTES = 50 * 1024 * 1024

_PATH = re.compile(r"/bot([^/]*)/([^/]+)\Z")
_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+\Z")
_CHAT = re.compile(r"-?[0-9]{1,20}\Z|@[A-Za-z][A-Za-z0-9_]{3,31}\Z")
_FILE_FIELDS = {"sendphoto": "photo", "senddocument": "document"}
_METHODS = {
    "getme": "getMe",
    "sendmessage": "sendMessage",
    "sendphoto": "sendPhoto",
    "senddocument": "sendDocument",
}


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart field."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One request as the server read it, and the status it answered (0: dropped)."""

    http_method: str
    path: str
    method: str
    token: str
    content_type: str
    params: dict[str, Any]
    files: dict[str, Upload]
    status: int
    description: str


@dataclass(frozen=True)
class SentMessage:
    """A message the fake "delivered": what a chat would show."""

    message_id: int
    chat_id: str
    method: str
    text: str | None
    parse_mode: str | None
    entities: list[dict[str, Any]] | None
    visible: str
    upload: Upload | None
    params: dict[str, Any]


@dataclass(frozen=True)
class Scripted:
    """A scripted answer to the next call of a method (after the request was found valid)."""

    error_code: int | None = None
    description: str = ""
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    drop: bool = False
    delay: float = 0.0
    deliver: bool = False


class BadRequest(Exception):
    """A request the Bot API would refuse: the status and its description."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters or {}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- entity parsing, as Telegram documents its formatting options -------------

_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
    "a", "code", "pre", "blockquote", "tg-emoji",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_PIECE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>|&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);"
)
_MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def _parse_html(text: str) -> str:
    visible: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _HTML_PIECE.finditer(text):
        literal = text[position : match.start()]
        for character in "<>&":
            if character in literal:
                raise BadRequest(
                    400,
                    f"Bad Request: can't parse entities: unexpected {character!r} at byte "
                    f"offset {len(text[: position + literal.index(character)].encode())}",
                )
        visible.append(literal)
        position = match.end()
        if match.group(4) is not None:
            entity = match.group(4)
            if entity.startswith("#x"):
                visible.append(chr(int(entity[2:], 16)))
            elif entity.startswith("#"):
                visible.append(chr(int(entity[1:])))
            elif entity in _HTML_NAMED:
                visible.append(_HTML_NAMED[entity])
            else:
                raise BadRequest(
                    400, f"Bad Request: can't parse entities: unsupported HTML entity &{entity};"
                )
            continue
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if name not in _HTML_TAGS:
            raise BadRequest(
                400, f"Bad Request: can't parse entities: unsupported start tag \"{name}\""
            )
        if closing:
            if not stack or stack[-1] != name:
                raise BadRequest(
                    400,
                    f"Bad Request: can't parse entities: unexpected end tag \"{name}\"",
                )
            stack.pop()
            continue
        if name == "a" and "href=" not in attributes:
            raise BadRequest(400, "Bad Request: can't parse entities: a tag without href")
        if name == "span" and "tg-spoiler" not in attributes:
            raise BadRequest(
                400, "Bad Request: can't parse entities: span without class=\"tg-spoiler\""
            )
        stack.append(name)
    literal = text[position:]
    for character in "<>&":
        if character in literal:
            raise BadRequest(
                400, f"Bad Request: can't parse entities: unexpected {character!r}"
            )
    visible.append(literal)
    if stack:
        raise BadRequest(
            400, f"Bad Request: can't parse entities: can't find end tag corresponding to "
            f"start tag \"{stack[-1]}\""
        )
    return "".join(visible)


def _parse_markdown_v2(text: str) -> str:
    visible: list[str] = []
    open_entities: list[str] = []
    index = 0
    length = len(text)
    link_depth = 0
    while index < length:
        character = text[index]
        if character == "\\":
            if index + 1 >= length or not 1 <= ord(text[index + 1]) <= 126:
                raise BadRequest(
                    400, "Bad Request: can't parse entities: a lone '\\' must be escaped"
                )
            visible.append(text[index + 1])
            index += 2
            continue
        if text.startswith("```", index):
            end = text.find("```", index + 3)
            if end == -1:
                raise BadRequest(
                    400, "Bad Request: can't parse entities: can't find end of Pre entity"
                )
            visible.append(text[index + 3 : end].replace("\\`", "`").replace("\\\\", "\\"))
            index = end + 3
            continue
        if character == "`":
            end = index + 1
            while end < length and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            if end >= length:
                raise BadRequest(
                    400, "Bad Request: can't parse entities: can't find end of Code entity"
                )
            visible.append(text[index + 1 : end].replace("\\`", "`").replace("\\\\", "\\"))
            index = end + 1
            continue
        marker = None
        for candidate in ("__", "||", "*", "_", "~"):
            if text.startswith(candidate, index):
                marker = candidate
                break
        if marker is not None:
            if open_entities and open_entities[-1] == marker:
                open_entities.pop()
            else:
                open_entities.append(marker)
            index += len(marker)
            continue
        if character == "[":
            link_depth += 1
            index += 1
            continue
        if character == "]" and link_depth:
            if not text.startswith("(", index + 1):
                raise BadRequest(400, "Bad Request: can't parse entities: link without URL")
            end = text.find(")", index + 2)
            if end == -1:
                raise BadRequest(400, "Bad Request: can't parse entities: unclosed link URL")
            link_depth -= 1
            index = end + 1
            continue
        if character == ">" and (index == 0 or text[index - 1] == "\n"):
            index += 1  # a block quotation's line
            continue
        if character in _MARKDOWN_V2_RESERVED:
            raise BadRequest(
                400,
                f"Bad Request: can't parse entities: Character '{character}' is reserved and "
                "must be escaped with the preceding '\\'",
            )
        visible.append(character)
        index += 1
    if open_entities or link_depth:
        raise BadRequest(
            400, "Bad Request: can't parse entities: can't find end of the entity starting "
            f"with {open_entities[-1] if open_entities else '['!r}"
        )
    return "".join(visible)


def visible_text(text: str, parse_mode: str | None) -> str:
    """What Telegram would show of ``text`` in ``parse_mode``; ``BadRequest`` if it cannot parse."""
    if parse_mode == "HTML":
        return _parse_html(text)
    if parse_mode == "MarkdownV2":
        return _parse_markdown_v2(text)
    if parse_mode == "Markdown":
        return re.sub(r"[*_`\[\]]", "", text)
    return text


# -- the server ----------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner._handle(self, body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Silent: tests read ``server.calls``."""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FakeTelegram


class FakeTelegram:
    """A threaded fake Bot API on 127.0.0.1 and a free port; a context manager.

    ``tokens`` are the bots it knows (any other well-formed token is
    ``401 Unauthorized``); each bot's id is the number before the colon.
    """

    def __init__(self, tokens: str | Iterable[str], *, host: str = "127.0.0.1", port: int = 0):
        self.tokens = {tokens} if isinstance(tokens, str) else set(tokens)
        self.blocked_chats: set[str] = set()
        self.missing_chats: set[str] = set()
        self._server = _Server((host, port), _Handler)
        self._server.owner = self
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._messages: list[SentMessage] = []
        self._scripts: dict[str, deque[Scripted]] = {}
        self._next_message_id = 1
        self._thread: threading.Thread | None = None

    @property
    def api_base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._messages)

    def script(self, method: str, *replies: Scripted) -> None:
        """Answer the next valid calls of ``method`` (``sendMessage``...) with ``replies``."""
        with self._lock:
            self._scripts.setdefault(method.lower(), deque()).extend(replies)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._messages.clear()
            self._scripts.clear()

    def start(self) -> FakeTelegram:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request ---------------------------------------------------------

    def _handle(self, handler: _Handler, body: bytes) -> None:
        url = urlsplit(handler.path)
        content_type = handler.headers.get("Content-Type", "")
        token = method = ""
        params: dict[str, Any] = {}
        files: dict[str, Upload] = {}
        try:
            match = _PATH.match(url.path)
            if match is None or not _TOKEN.match(match.group(1)):
                raise BadRequest(404, "Not Found")
            token, method = match.group(1), match.group(2)
            if token not in self.tokens:
                raise BadRequest(401, "Unauthorized")
            key = method.lower()
            if key not in _METHODS:
                raise BadRequest(404, "Not Found: method not found")
            method = _METHODS[key]
            params, files = _parameters(handler.command, url.query, content_type, body)
            if key == "getme":
                if handler.command not in ("GET", "POST"):
                    raise BadRequest(400, f"Bad Request: {handler.command} is not supported")
                self._record(handler, url.path, method, token, content_type, params, files, 200)
                bot_id = int(token.split(":", 1)[0])
                handler.answer(200, {"ok": True, "result": {
                    "id": bot_id, "is_bot": True, "first_name": "Fake bot",
                    "username": f"fake{bot_id}_bot",
                }})
                return
            if handler.command != "POST":
                raise BadRequest(
                    400, f"Bad Request: the fake takes {method} by POST only, got {handler.command}"
                )
            text, parse_mode, entities, upload, visible = _check_send(key, params, files)
            chat = str(params["chat_id"])
            if chat in self.missing_chats:
                raise BadRequest(400, "Bad Request: chat not found")
            if chat in self.blocked_chats:
                raise BadRequest(403, "Forbidden: bot was blocked by the user")
            with self._lock:
                queued = self._scripts.get(key)
                scripted = queued.popleft() if queued else None
            if scripted is not None and scripted.error_code is not None:
                parameters: dict[str, Any] = {}
                if scripted.retry_after is not None:
                    parameters["retry_after"] = scripted.retry_after
                if scripted.migrate_to_chat_id is not None:
                    parameters["migrate_to_chat_id"] = scripted.migrate_to_chat_id
                raise BadRequest(scripted.error_code, scripted.description, parameters)
            if scripted is not None and scripted.drop:
                if scripted.deliver:
                    self._deliver(chat, method, text, parse_mode, entities, visible, upload, params)
                self._record(handler, url.path, method, token, content_type, params, files, 0)
                handler.close_connection = True
                return
            if scripted is not None and scripted.delay:
                time.sleep(scripted.delay)
            message_id = self._deliver(
                chat, method, text, parse_mode, entities, visible, upload, params
            )
            self._record(handler, url.path, method, token, content_type, params, files, 200)
            result: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
            }
            if text is not None:
                result["caption" if upload else "text"] = visible
            handler.answer(200, {"ok": True, "result": result})
        except BadRequest as error:
            self._record(
                handler, url.path, method, token, content_type, params, files, error.status,
                error.description,
            )
            payload: dict[str, Any] = {
                "ok": False, "error_code": error.status, "description": error.description,
            }
            if error.parameters:
                payload["parameters"] = error.parameters
            handler.answer(error.status, payload)

    def _deliver(
        self,
        chat: str,
        method: str,
        text: str | None,
        parse_mode: str | None,
        entities: list[dict[str, Any]] | None,
        visible: str,
        upload: Upload | None,
        params: dict[str, Any],
    ) -> int:
        with self._lock:
            message_id = self._next_message_id
            self._next_message_id += 1
            self._messages.append(
                SentMessage(
                    message_id, chat, method, text, parse_mode, entities, visible, upload, params
                )
            )
            return message_id

    def _record(
        self,
        handler: _Handler,
        path: str,
        method: str,
        token: str,
        content_type: str,
        params: dict[str, Any],
        files: dict[str, Upload],
        status: int,
        description: str = "",
    ) -> None:
        call = Call(handler.command, path, method, token, content_type, params, files, status,
                    description)
        with self._lock:
            self._calls.append(call)


def _parameters(
    http_method: str, query: str, content_type: str, body: bytes
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """The call's parameters and uploaded files, from the query, JSON, a form or multipart."""
    params: dict[str, Any] = {key: values[-1] for key, values in parse_qs(query).items()}
    files: dict[str, Upload] = {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params, files
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise BadRequest(400, "Bad Request: the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest(400, "Bad Request: the JSON body must be an object")
        params.update(data)
    elif kind == "application/x-www-form-urlencoded":
        params.update({key: values[-1] for key, values in parse_qs(body.decode()).items()})
    elif kind == "multipart/form-data":
        parser = email.parser.BytesParser(policy=email.policy.HTTP)
        message = parser.parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
        if not message.is_multipart():
            raise BadRequest(400, "Bad Request: malformed multipart/form-data")
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                raise BadRequest(400, "Bad Request: a multipart field without a name")
            payload = part.get_payload(decode=True)
            data_bytes = payload if isinstance(payload, bytes) else b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = Upload(filename, part.get_content_type(), data_bytes)
            else:
                params[name] = data_bytes.decode("utf-8")
    else:
        raise BadRequest(400, f"Bad Request: unsupported Content-Type {kind!r}")
    return params, files


def _boolean(params: dict[str, Any], name: str) -> None:
    value = params.get(name)
    if value is None or isinstance(value, bool) or value in ("true", "false", "True", "False"):
        return
    raise BadRequest(400, f"Bad Request: {name} must be a Boolean, got {value!r}")


def _check_send(
    key: str, params: dict[str, Any], files: dict[str, Upload]
) -> tuple[str | None, str | None, list[dict[str, Any]] | None, Upload | None, str]:
    chat = params.get("chat_id")
    if chat is None or chat == "":
        raise BadRequest(400, "Bad Request: chat_id is empty")
    if isinstance(chat, bool) or not isinstance(chat, (int, str)) or not _CHAT.match(str(chat)):
        raise BadRequest(400, "Bad Request: chat not found")
    for name in ("disable_notification", "protect_content"):
        _boolean(params, name)
    preview = params.get("link_preview_options")
    if preview is not None and not isinstance(preview, dict):
        raise BadRequest(400, "Bad Request: link_preview_options must be an object")
    parse_mode = params.get("parse_mode")
    if parse_mode not in (None, "", "HTML", "MarkdownV2", "Markdown"):
        raise BadRequest(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
    parse_mode = parse_mode or None
    upload = None
    if key == "sendmessage":
        text = params.get("text")
        if not isinstance(text, str):
            raise BadRequest(400, "Bad Request: message text is empty")
        limit, entities_name, text_name = MESSAGE_LIMIT, "entities", "message"
    else:
        field_name = _FILE_FIELDS[key]
        upload = files.get(field_name)
        if upload is None:
            raise BadRequest(
                400, f"Bad Request: there is no {field_name} in the request (upload it as "
                "multipart/form-data)"
            )
        if key == "sendphoto":
            if upload.content_type not in ("image/jpeg", "image/png"):
                raise BadRequest(400, "Bad Request: IMAGE_PROCESS_FAILED")
            if len(upload.data) > PHOTO_MAX_BYTES:
                raise BadRequest(400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
        elif len(upload.data) > DOCUMENT_MAX_BYTES:
            raise BadRequest(413, "Request Entity Too Large")
        text = params.get("caption")
        limit, entities_name, text_name = CAPTION_LIMIT, "caption_entities", "caption"
    entities = params.get(entities_name)
    if isinstance(entities, str):
        try:
            entities = json.loads(entities)
        except ValueError:
            raise BadRequest(400, f"Bad Request: can't parse {entities_name} JSON") from None
    if entities is not None and parse_mode is not None:
        raise BadRequest(
            400, f"Bad Request: the fake refuses {entities_name} together with parse_mode"
        )
    if text is None:
        return None, parse_mode, None, upload, ""
    visible = visible_text(text, parse_mode)
    if not visible.strip():
        raise BadRequest(400, f"Bad Request: {text_name} text is empty")
    if utf16_length(visible) > limit:
        raise BadRequest(400, f"Bad Request: {text_name} is too long")
    if entities is not None:
        total = utf16_length(visible)
        if not isinstance(entities, list):
            raise BadRequest(400, f"Bad Request: {entities_name} must be an array")
        for entity in entities:
            if (
                not isinstance(entity, dict)
                or not isinstance(entity.get("type"), str)
                or not isinstance(entity.get("offset"), int)
                or not isinstance(entity.get("length"), int)
                or entity["offset"] < 0
                or entity["length"] <= 0
                or entity["offset"] + entity["length"] > total
            ):
                raise BadRequest(400, f"Bad Request: can't parse entities: bad entity {entity!r}")
    return text, parse_mode, entities, upload, visible


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--token", action="append", required=True, help="a bot token it knows")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with FakeTelegram(args.token, port=args.port) as server:
        print(server.api_base, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

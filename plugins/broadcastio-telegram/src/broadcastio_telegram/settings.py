"""Settings of the Telegram provider, as written in code, a config file or the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from broadcastio import RetryPolicy, ValidationError
from broadcastio.records.checks import check_bool, check_int, check_number, check_text

__all__ = [
    "API_BASE_ENV",
    "CONNECT_TIMEOUT_MAX",
    "DEFAULT_API_BASE",
    "ENVIRONMENT_VARIABLES",
    "HEALTH_TIMEOUT_MAX",
    "PARSE_MODES",
    "POOL_SIZE_MAX",
    "TIMEOUT_MAX",
    "TOKEN_ENV",
    "TelegramSettings",
    "check_api_base",
    "check_token",
]

TOKEN_ENV = "BROADCASTIO_TELEGRAM_TOKEN"
API_BASE_ENV = "BROADCASTIO_TELEGRAM_API_BASE"
ENVIRONMENT_VARIABLES = (TOKEN_ENV, API_BASE_ENV)

DEFAULT_API_BASE = "https://api.telegram.org"

PARSE_MODES = ("HTML", "MarkdownV2")
"""The parse modes the provider knows how to put a title in and split safely.

Telegram's legacy ``Markdown`` mode is left out on purpose: it cannot escape
every character, so a title (or a split) could not be made safe in it."""

# Far beyond any useful value: a typo (timeout = 30000) is refused when the
# configuration is loaded instead of stalling a sending thread for hours.
CONNECT_TIMEOUT_MAX = 300.0
TIMEOUT_MAX = 600.0
HEALTH_TIMEOUT_MAX = 300.0
POOL_SIZE_MAX = 1000

# What BotFather hands out: the bot's numeric id, a colon, and a secret of
# letters, digits, "-" and "_". Checked because the token becomes part of the
# request path: a "/" or "?" in it would address another URL.
_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}\Z")


def check_token(value: Any, source: str) -> str:
    """``value`` if it looks like a bot token; the error never repeats the value (a secret)."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{source} must be a non-empty string", field=source)
    if not _TOKEN.match(value):
        raise ValidationError(
            f"{source} does not look like a bot token from BotFather "
            "(digits, a colon, then letters, digits, '-' or '_', e.g. 123456789:AAE...)",
            field=source,
        )
    return value


def check_api_base(value: Any, source: str) -> str:
    """An http(s) URL without query or fragment; where the Bot API (or a fake of it) answers.

    A URL holding ``/bot`` is refused without being repeated: it is the
    classic mistake of pasting a whole method URL, token included.
    """
    url = check_text(source, value)
    if "/bot" in url:
        raise ValidationError(
            f"{source} is the server's address only (like {DEFAULT_API_BASE}), without "
            "/bot<token>/...: the token goes in token",
            field=source,
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(f"{source} has an invalid port: {url!r}", field=source) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{source} must be an http(s) URL like {DEFAULT_API_BASE}, got {url!r}", field=source
        )
    if parts.query or parts.fragment:
        raise ValidationError(f"{source} must not have a query or fragment: {url!r}", field=source)
    return url


def _check_parse_mode(value: Any) -> str | None:
    if value is None or value in PARSE_MODES:
        return value  # type: ignore[no-any-return]
    hint = ""
    if isinstance(value, str) and value.lower() in ("html", "markdownv2"):
        hint = f" (spelled {'HTML' if value.lower() == 'html' else 'MarkdownV2'})"
    elif value == "Markdown":
        hint = " (Telegram's legacy Markdown cannot escape every character; use MarkdownV2)"
    raise ValidationError(
        f"parse_mode must be one of {', '.join(PARSE_MODES)} or left out for plain text, "
        f"got {value!r}{hint}",
        field="parse_mode",
    )


@attrs.frozen
class TelegramSettings:
    """Which bot sends, through which Bot API server, and how messages look.

    ``token`` is the bot's token from BotFather; it falls back to
    ``BROADCASTIO_TELEGRAM_TOKEN`` and ``api_base`` to
    ``BROADCASTIO_TELEGRAM_API_BASE`` (``with_environment``, applied once by
    the provider and by ``broadcastio config``), so the token never has to be
    written into a file. The variable's token is only sent to the variables'
    server: settings naming another ``api_base`` take no token from it. The
    token is part of every request's path, so it is never shown: not in
    ``repr``, errors, results, logs or ``config`` output.

    ``api_base`` is the Bot API server, ``https://api.telegram.org`` unless a
    self-hosted Bot API server (or a test's fake) answers elsewhere.

    ``parse_mode``: ``None`` sends the content as plain text (the title is
    made bold with an entity, nothing in the content is interpreted),
    ``"HTML"`` or ``"MarkdownV2"`` have Telegram format the content, which must
    then be written in that syntax; the title is escaped for the mode.

    ``disable_notification`` sends silently, ``disable_link_preview`` turns off
    link previews, ``protect_content`` forbids forwarding and saving.

    ``timeout`` is the read timeout of a send in seconds (no answer in that
    time is an ambiguous ``TIMEOUT``), ``connect_timeout`` how long to wait
    for a connection (none is ``PROVIDER_UNAVAILABLE``, nothing was sent),
    ``health_timeout`` bounds the ``getMe`` check. ``pool_size`` is the
    number of keep-alive connections kept for threads sending at once.

    Ranges (checked at construction, so a config file is refused when loaded):
    ``timeout`` ``(0, 600]``, ``connect_timeout`` ``(0, 300]``,
    ``health_timeout`` ``(0, 300]``, ``pool_size`` ``1..1000``.
    """

    token: str | None = attrs.field(default=None, repr=False)
    api_base: str | None = None
    parse_mode: str | None = attrs.field(default=None, converter=_check_parse_mode)
    disable_notification: bool = False
    disable_link_preview: bool = False
    protect_content: bool = False
    timeout: float = 30.0
    connect_timeout: float = 5.0
    health_timeout: float = 5.0
    pool_size: int = 10
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        if self.token is not None:
            check_token(self.token, "token")
        if self.api_base is not None:
            check_api_base(self.api_base, "api_base")
        for name in ("disable_notification", "disable_link_preview", "protect_content"):
            check_bool(name, getattr(self, name))
        check_number("timeout", self.timeout, exclusive=True, maximum=TIMEOUT_MAX)
        check_number(
            "connect_timeout", self.connect_timeout, exclusive=True, maximum=CONNECT_TIMEOUT_MAX
        )
        check_number(
            "health_timeout", self.health_timeout, exclusive=True, maximum=HEALTH_TIMEOUT_MAX
        )
        check_int("pool_size", self.pool_size, minimum=1, maximum=POOL_SIZE_MAX)
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}",
                field="retry_policy",
            )

    def with_environment(self, environ: Mapping[str, str]) -> TelegramSettings:
        """These settings with ``token`` and ``api_base`` filled in from ``environ``.

        ``BROADCASTIO_TELEGRAM_TOKEN`` fills in the token only for the server the
        environment means (``BROADCASTIO_TELEGRAM_API_BASE``, else the real Bot
        API): settings naming another ``api_base`` (a self-hosted Bot API
        server, a proxy) take no token from it, since the token travels in every
        request's path to that server and would hand the bot to whoever runs it.

        A value given explicitly always wins; an empty variable counts as unset.
        ``api_base`` ends up set in any case (the real Bot API as the last
        resort), so the result is exactly what the provider will use. A bad
        value in a variable is a ``ValidationError`` naming the variable.
        Applying it twice changes nothing.
        """
        changes: dict[str, Any] = {}
        from_environment = environ.get(API_BASE_ENV)
        if self.api_base is None:
            changes["api_base"] = (
                check_api_base(from_environment, API_BASE_ENV)
                if from_environment
                else DEFAULT_API_BASE
            )
        environment_server = self.api_base is None or _same_server(
            self.api_base, from_environment or DEFAULT_API_BASE
        )
        if self.token is None and environ.get(TOKEN_ENV) and environment_server:
            changes["token"] = check_token(environ[TOKEN_ENV], TOKEN_ENV)
        return attrs.evolve(self, **changes) if changes else self


def _same_server(first: str, second: str) -> bool:
    """Whether two base URLs address one server: scheme, host and port, and the same path."""

    def identity(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url.strip())
        try:
            port = parts.port
        except ValueError:
            port = None
        default = {"http": 80, "https": 443}.get(parts.scheme.lower())
        host = (parts.hostname or "").rstrip(".")
        return (parts.scheme.lower(), host, port or default, parts.path.rstrip("/"))

    return identity(first) == identity(second)

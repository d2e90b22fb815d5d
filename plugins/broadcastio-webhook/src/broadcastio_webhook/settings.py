"""Settings of the webhook provider, as written in code or a config file.

There are no ``BROADCASTIO_WEBHOOK_*`` environment variables, on purpose:
whether an instance posts to its own ``url`` or to each contact's URL is
decided by ``url`` being set, and a variable filling ``url`` for every
instance would silently turn a per-contact instance into a channel. Secrets
(the URL itself, a token header, the signing secret) go through the config
file's ``${VAR}`` interpolation instead, per instance.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs.gen

from broadcastio import RetryPolicy, ValidationError
from broadcastio.records.checks import check_number, check_text
from broadcastio.records.serialization import converter
from broadcastio_webhook.formats import FORMATS, TEMPLATE, ntfy_target, template_problem
from broadcastio_webhook.urls import redact_url, url_problem

__all__ = [
    "HEALTH_TIMEOUT_MAX",
    "RESERVED_HEADERS",
    "SECRET_MIN_LENGTH",
    "TIMEOUT_MAX",
    "WebhookSettings",
]

# Far beyond any useful value: a typo (timeout = 30000) is refused when the
# configuration is loaded instead of stalling a sending thread for hours.
TIMEOUT_MAX = 600.0
HEALTH_TIMEOUT_MAX = 300.0

SECRET_MIN_LENGTH = 16
"""A shorter HMAC key can be guessed from a few signed requests' worth of effort."""

RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "idempotency-key",
        "broadcastio-signature",
    }
)
"""Headers the provider sets itself: the body's type and length, the framing,
the idempotency key and the signature. Overriding one would break the request
or make the receiver's checks lie, so ``headers`` cannot name them."""

# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def _check_format(value: Any) -> str:
    if value not in FORMATS:
        raise ValidationError(
            f"format must be one of {', '.join(FORMATS)}, got {value!r}", field="format"
        )
    return str(value)


def _check_headers(value: Mapping[str, str]) -> None:
    """Header names that are tokens and not ours; values on one line, in Latin-1.

    The values are never echoed: ``Authorization = "Bearer ${TOKEN}"`` is the
    usual reason to have this setting at all.
    """
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"headers must be a table of names to values, got {type(value).__name__}",
            field="headers",
        )
    for name, header_value in value.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise ValidationError(
                f"headers: {name!r} is not a valid header name "
                "(letters, digits and !#$%&'*+-.^_`|~)",
                field="headers",
            )
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                f"headers: {name} is set by the provider itself and cannot be given",
                field="headers",
            )
        if not isinstance(header_value, str):
            raise ValidationError(
                f"headers: the value of {name} must be a string, got {type(header_value).__name__}",
                field="headers",
            )
        if any(char in header_value for char in "\r\n\x00"):
            raise ValidationError(f"headers: the value of {name} must be one line", field="headers")
        try:
            header_value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValidationError(
                f"headers: the value of {name} holds characters HTTP headers cannot carry "
                "(only Latin-1)",
                field="headers",
            ) from None


@attrs.frozen
class WebhookSettings:
    """Where to POST, in which body format, with which extra headers and signature.

    ``url`` set: every message goes to that URL (a channel: a Slack channel's
    incoming webhook, an ntfy topic, your own endpoint). ``url`` unset: each
    message goes to its recipient's URL, a contact's ``webhook`` address (or a
    plain recipient string that is a URL). Only ``http://`` and ``https://``.

    ``format`` is the body: ``json`` (broadcastio's own documented body),
    ``slack``, ``discord``, ``teams``, ``mattermost``, ``googlechat``,
    ``ntfy``, or ``template`` with ``template`` a JSON text whose
    ``$text``, ``$title``… placeholders are replaced by JSON values.

    ``headers`` are sent with every request (``${VAR}`` in a config file for
    tokens). ``signing_secret`` (at least 16 characters) adds the
    ``Broadcastio-Signature`` header, an HMAC-SHA256 of the timestamp and the
    body. ``ca_file`` trusts a private CA for ``https``.

    Ranges (checked at construction, so a config file is refused when loaded):
    ``timeout`` ``(0, 600]`` seconds for connecting and for the answer each,
    ``health_timeout`` ``(0, 300]``.
    """

    url: str | None = attrs.field(
        default=None, repr=lambda value: "None" if value is None else repr(redact_url(value))
    )
    format: str = attrs.field(default="json", converter=_check_format)
    template: str | None = None
    headers: dict[str, str] = attrs.field(
        factory=dict, repr=lambda value: repr({name: "***" for name in value})
    )
    signing_secret: str | None = attrs.field(default=None, repr=False)
    timeout: float = 10.0
    health_timeout: float = 5.0
    ca_file: str | None = None
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        if self.url is not None:
            problem = url_problem(self.url)
            if problem is not None:
                # The URL itself is not repeated: it is usually a secret.
                raise ValidationError(f"url {problem}", field="url")
            if self.format == "ntfy" and ntfy_target(self.url) is None:
                raise ValidationError(
                    "url must be the ntfy topic's URL, like https://ntfy.sh/TOPIC "
                    "(the last path segment is the topic)",
                    field="url",
                )
        if self.format == TEMPLATE:
            if self.template is None:
                raise ValidationError(
                    'format = "template" needs template, a JSON text with placeholders '
                    'such as {"message": $text}',
                    field="template",
                )
            problem = template_problem(self.template)
            if problem is not None:
                raise ValidationError(f"template {problem}", field="template")
        elif self.template is not None:
            raise ValidationError(
                f'template is only used with format = "template" (format is {self.format!r})',
                field="template",
            )
        _check_headers(self.headers)
        if self.signing_secret is not None:
            # Never echo the value: it is a secret.
            if not isinstance(self.signing_secret, str) or len(self.signing_secret) < (
                SECRET_MIN_LENGTH
            ):
                raise ValidationError(
                    f"signing_secret must be a string of at least {SECRET_MIN_LENGTH} "
                    "characters (e.g. from `openssl rand -hex 32`)",
                    field="signing_secret",
                )
        check_number("timeout", self.timeout, exclusive=True, maximum=TIMEOUT_MAX)
        check_number(
            "health_timeout", self.health_timeout, exclusive=True, maximum=HEALTH_TIMEOUT_MAX
        )
        if self.ca_file is not None:
            check_text("ca_file", self.ca_file)
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}",
                field="retry_policy",
            )

    @property
    def per_contact(self) -> bool:
        """Whether each message goes to its recipient's URL (``url`` unset)."""
        return self.url is None


_unstructure_fields = cattrs.gen.make_dict_unstructure_fn(WebhookSettings, converter)


def _unstructure_redacted(settings: WebhookSettings) -> dict[str, Any]:
    """The settings as ``broadcastio config`` shows them: URL and header values hidden.

    ``broadcastio config`` hides values under secret-looking keys (``*secret*``,
    ``*token*``…), but a webhook URL is a secret under the plain key ``url``,
    and a header's value (``Authorization``) under any name. This hook is the
    one place the webhook's settings are turned into plain data, so hiding
    them here covers every output built from it.
    """
    data: dict[str, Any] = _unstructure_fields(settings)
    if settings.url is not None:
        data["url"] = redact_url(settings.url)
    data["headers"] = {name: "***" for name in settings.headers}
    return data


converter.register_unstructure_hook(WebhookSettings, _unstructure_redacted)


def _structure_headers(value: Any, _: Any) -> dict[str, Any]:
    """``headers`` from a config table: any mapping, checked by the settings themselves.

    The generic structuring of ``dict[str, str]`` would answer a string
    (``headers = "Authorization: x"``) with ``'str' object has no attribute
    'items'``; this says what is expected, and leaves the per-header checks
    (names, values, reserved headers) to ``WebhookSettings``, whose messages
    never echo a value.
    """
    if not isinstance(value, Mapping):
        raise TypeError(
            f"expected a table of header names to values, like "
            f'{{ Authorization = "Bearer ${{TOKEN}}" }}, got {type(value).__name__}'
        )
    return dict(value)


converter.register_structure_hook(
    WebhookSettings,
    cattrs.gen.make_dict_structure_fn(
        WebhookSettings,
        converter,
        headers=cattrs.gen.override(struct_hook=_structure_headers),
    ),
)

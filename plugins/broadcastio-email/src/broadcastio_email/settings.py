"""Settings of the email provider, as written in code, a config file or the environment."""

from __future__ import annotations

import email.utils
import ipaddress
from collections.abc import Mapping
from typing import Any

import attrs

from broadcastio import RetryPolicy, ValidationError
from broadcastio.records.checks import check_int, check_number, check_text

__all__ = [
    "DEFAULT_PORTS",
    "ENVIRONMENT_VARIABLES",
    "FROM_ENV",
    "HEALTH_TIMEOUT_MAX",
    "HOST_ENV",
    "PASSWORD_ENV",
    "PORT_ENV",
    "SECURITY_MODES",
    "TIMEOUT_MAX",
    "USERNAME_ENV",
    "EmailSettings",
    "check_address",
]

HOST_ENV = "BROADCASTIO_EMAIL_HOST"
PORT_ENV = "BROADCASTIO_EMAIL_PORT"
USERNAME_ENV = "BROADCASTIO_EMAIL_USERNAME"
PASSWORD_ENV = "BROADCASTIO_EMAIL_PASSWORD"
FROM_ENV = "BROADCASTIO_EMAIL_FROM"
ENVIRONMENT_VARIABLES = (HOST_ENV, PORT_ENV, USERNAME_ENV, PASSWORD_ENV, FROM_ENV)

SECURITY_MODES = ("starttls", "tls", "none")
# The ports every mail service documents for each mode: submission with
# STARTTLS (RFC 6409), submission over implicit TLS (RFC 8314), plain SMTP.
DEFAULT_PORTS: Mapping[str, int] = {"starttls": 587, "tls": 465, "none": 25}

# Far beyond any useful value: a typo (timeout = 30000) is refused when the
# configuration is loaded instead of stalling a sending thread for hours.
TIMEOUT_MAX = 600.0
HEALTH_TIMEOUT_MAX = 300.0


def check_address(value: Any, name: str, *, display_name: bool) -> str:
    """``value`` if it is one email address (with a display name when allowed).

    Header injection is the danger worth naming: a CR or LF in an address
    written into a header would let it add headers of its own, so it is refused
    here, where the setting is read, not found out at the first send.
    """
    text = check_text(name, value, field=name)
    if any(char in text for char in "\r\n\x00"):
        raise ValidationError(f"{name} must be one line, got {text!r}", field=name)
    shown_name, address = email.utils.parseaddr(text)
    if not address or not is_plain_address(address):
        example = '"Ops <ops@example.com>" or ' if display_name else ""
        raise ValidationError(
            f"{name} must be an email address like {example}ops@example.com, got {text!r}",
            field=name,
        )
    if shown_name and not display_name:
        raise ValidationError(
            f"{name} must be a bare address like ops@example.com, without a display name, "
            f"got {text!r}",
            field=name,
        )
    return text


def is_plain_address(address: str) -> bool:
    """Whether ``address`` looks like ``local@domain``: one ``@``, no blanks, a dotless-safe domain.

    Deliberately loose (RFC 5321 allows far more than any check here would
    admit correctly); it exists to refuse a phone number or a typo before an
    SMTP conversation, and leaves the final word to the receiving server.
    """
    if address.count("@") != 1 or any(char.isspace() or ord(char) < 32 for char in address):
        return False
    local, domain = address.split("@")
    if not local or not domain or domain.startswith(".") or domain.endswith("."):
        return False
    return all(part for part in domain.split("."))


def _check_security(value: Any) -> str:
    if value not in SECURITY_MODES:
        raise ValidationError(
            f"security must be one of {', '.join(SECURITY_MODES)}, got {value!r}",
            field="security",
        )
    return str(value)


def _check_list_unsubscribe(value: str) -> str:
    """The ``List-Unsubscribe`` header value: ``<mailto:...>`` and/or ``<https://...>`` parts."""
    check_text("list_unsubscribe", value)
    if any(char in value for char in "\r\n\x00"):
        raise ValidationError("list_unsubscribe must be one line", field="list_unsubscribe")
    for part in value.split(","):
        target = part.strip().removeprefix("<").removesuffix(">")
        if not target.startswith(("mailto:", "https://", "http://")):
            raise ValidationError(
                "list_unsubscribe must be mailto: and/or http(s):// URLs, comma-separated, "
                f"e.g. <mailto:unsubscribe@example.com>, got {value!r}",
                field="list_unsubscribe",
            )
    return value


@attrs.frozen
class EmailSettings:
    """Which SMTP server to hand messages to, as whom, and how.

    ``host``, ``port``, ``username``, ``password`` and ``from_address`` fall back
    to the environment variables ``BROADCASTIO_EMAIL_HOST``, ``..._PORT``,
    ``..._USERNAME``, ``..._PASSWORD`` and ``..._FROM`` (``with_environment``,
    applied once by the provider and by ``broadcastio config``), so a password
    never has to be written into a file. They fill in only settings whose
    ``host`` is unset or is ``BROADCASTIO_EMAIL_HOST``'s: the environment's
    password never goes to another server. ``port`` defaults to the port of the
    ``security`` mode: 587 for ``starttls``, 465 for ``tls``, 25 for ``none``.

    ``security``: ``starttls`` upgrades a plain connection (and fails if the
    server does not offer it: mail is never sent in clear by accident), ``tls``
    starts encrypted, ``none`` never encrypts (a relay on the same host). The
    server certificate is checked against the system's CAs, or against
    ``ca_file`` for a private CA.

    ``from_address`` may carry a display name (``"Ops <ops@example.com>"``);
    ``reply_to`` is one address. ``list_unsubscribe`` becomes the
    ``List-Unsubscribe`` header (``<mailto:...>`` and/or ``<https://...>``).

    Ranges (checked at construction, so a config file is refused when loaded):
    ``port`` ``1..65535``, ``timeout`` ``(0, 600]``, ``health_timeout`` ``(0, 300]``.
    """

    host: str | None = None
    port: int | None = None
    security: str = attrs.field(default="starttls", converter=_check_security)
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    from_address: str | None = None
    reply_to: str | None = None
    timeout: float = 30.0
    health_timeout: float = 5.0
    list_unsubscribe: str | None = None
    ca_file: str | None = None
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        if self.host is not None:
            _check_host(self.host, "host")
        if self.port is not None:
            check_int("port", self.port, minimum=1, maximum=65535)
        if self.username is not None:
            check_text("username", self.username)
        if self.password is not None:
            # Never echo the value: it is a secret.
            if not isinstance(self.password, str) or not self.password:
                raise ValidationError("password must be a non-empty string", field="password")
        if self.from_address is not None:
            check_address(self.from_address, "from_address", display_name=True)
        if self.reply_to is not None:
            check_address(self.reply_to, "reply_to", display_name=True)
        check_number("timeout", self.timeout, exclusive=True, maximum=TIMEOUT_MAX)
        check_number(
            "health_timeout", self.health_timeout, exclusive=True, maximum=HEALTH_TIMEOUT_MAX
        )
        if self.list_unsubscribe is not None:
            _check_list_unsubscribe(self.list_unsubscribe)
        if self.ca_file is not None:
            check_text("ca_file", self.ca_file)
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}",
                field="retry_policy",
            )

    @property
    def effective_port(self) -> int:
        """``port``, or the usual port of the ``security`` mode when none was given."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]

    def with_environment(self, environ: Mapping[str, str]) -> EmailSettings:
        """These settings with unset fields filled in from the ``BROADCASTIO_EMAIL_*`` variables.

        The variables describe one account on one server, so they fill in only
        settings for that server: ``host`` left unset (it then comes from
        ``BROADCASTIO_EMAIL_HOST``) or naming the same host. An instance with a
        host of its own (``[providers.billing] host = "smtp.vendor.example"``)
        takes nothing from them: the password exported for one mail service is
        never sent to another's server, and an instance that forgets its
        password is refused ("username but not password") instead of trying
        someone else's. Such an instance takes a secret from the environment
        by naming it: ``password = "${BILLING_SMTP_PASSWORD}"``.

        A value given explicitly always wins; an empty variable counts as unset.
        A bad value in a variable is a ``ValidationError`` naming the variable,
        since that is where the user has to fix it. Applying it twice changes
        nothing.
        """
        if not environ.get(HOST_ENV):
            return self
        environment_host = _check_host(environ[HOST_ENV], HOST_ENV)
        if self.host is not None and not _same_host(self.host, environment_host):
            return self
        changes: dict[str, Any] = {}
        if self.host is None:
            changes["host"] = environment_host
        if self.port is None and environ.get(PORT_ENV):
            changes["port"] = _port_from_environment(environ[PORT_ENV])
        if self.username is None and environ.get(USERNAME_ENV):
            changes["username"] = check_text(USERNAME_ENV, environ[USERNAME_ENV])
        if self.password is None and environ.get(PASSWORD_ENV):
            changes["password"] = environ[PASSWORD_ENV]
        if self.from_address is None and environ.get(FROM_ENV):
            changes["from_address"] = check_address(
                environ[FROM_ENV], FROM_ENV, display_name=True
            )
        return attrs.evolve(self, **changes) if changes else self


def _same_host(first: str, second: str) -> bool:
    """Whether two host settings name one server: DNS names ignore case and a final dot."""
    return first.lower().rstrip(".") == second.lower().rstrip(".")


def _check_host(value: Any, name: str) -> str:
    host = check_text(name, value, field=name)
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        pass
    else:
        return host
    if host != host.strip() or any(char.isspace() or char in "/:@" for char in host):
        raise ValidationError(
            f"{name} must be a host name or IP address like smtp.example.com "
            f"(the port goes in port), got {host!r}",
            field=name,
        )
    return host


def _port_from_environment(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise ValidationError(
            f"{PORT_ENV} must be a port number, got {text!r}", field=PORT_ENV
        ) from None
    return check_int(PORT_ENV, port, minimum=1, maximum=65535)

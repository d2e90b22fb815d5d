"""Settings of the WhatsApp provider, as written in code, a config file or the environment."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from broadcastio import RetryPolicy, ValidationError
from broadcastio.records.checks import check_int, check_iterable, check_number, check_text
from broadcastio_whatsapp.pacing import PACING_OFF, PacingSettings, to_pacing

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "BRIDGE_SEND_TIMEOUT",
    "DEFAULT_BASE_URL",
    "CONNECT_TIMEOUT_MAX",
    "DEFAULT_TIMEOUT",
    "HEALTH_TIMEOUT_MAX",
    "POOL_SIZE_MAX",
    "READ_TIMEOUT_MARGIN",
    "READ_TIMEOUT_MAX",
    "WhatsAppSettings",
    "check_base_url",
]

API_KEY_ENV = "BROADCASTIO_WHATSAPP_API_KEY"
BASE_URL_ENV = "BROADCASTIO_WHATSAPP_BASE_URL"
DEFAULT_BASE_URL = "http://127.0.0.1:3000"

# The bridge answers a send within BRIDGE_SEND_TIMEOUT_MS (default 30 000 ms) of
# starting it, with a 504 when WhatsApp is slower. Before it starts, the message
# waits in the bridge's paced queue for a random gap (10 to 30 s by default);
# the bridge refuses with 429 and Retry-After a send that could wait there more
# than BRIDGE_QUEUE_MAX_WAIT_MS (35 s). The margin covers the wait for the send
# ahead plus the network, so a client sending from a handful of threads hears
# the bridge's own verdict (201, 429 or 504) instead of giving up first.
BRIDGE_SEND_TIMEOUT = 30.0
READ_TIMEOUT_MARGIN = 10.0
DEFAULT_TIMEOUT = (5.0, BRIDGE_SEND_TIMEOUT + READ_TIMEOUT_MARGIN)

# Upper bounds are far beyond any useful value; they exist so that a typo
# (pool_size = 100000000 allocated a pool that size and hung) is an error when
# the configuration is loaded, not a hang at the first send. Lower bounds: a
# timeout of 0 would fail every request, a pool of 0 could hold no connection.
CONNECT_TIMEOUT_MAX = 300.0
READ_TIMEOUT_MAX = 3600.0
HEALTH_TIMEOUT_MAX = 300.0
POOL_SIZE_MAX = 1000


def check_base_url(url: str, source: str) -> str:
    """Reject anything but a plain http(s) URL, naming where it came from."""
    check_text(source, url)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(f"{source} has an invalid port: {url!r}", field=source) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{source} must be an http(s) URL like {DEFAULT_BASE_URL}, got {url!r}", field=source
        )
    if parts.query or parts.fragment:
        raise ValidationError(
            f"{source} must not have a query or fragment: {url!r}", field=source
        )
    return url


def check_api_key(key: str, source: str) -> str:
    """The key becomes an HTTP header: reject what requests would refuse or never match."""
    check_text(source, key)
    # Surrounding blanks and control characters would either be rejected by
    # requests at send time or silently never match the bridge's key.
    if key != key.strip() or any(ord(char) < 32 or ord(char) == 127 for char in key):
        raise ValidationError(
            f"{source} must not have surrounding blanks or control characters", field=source
        )
    return key


def _to_timeout_pair(value: Any) -> tuple[float, float]:
    pair = tuple(check_iterable("timeout", value, "two numbers, [connect, read]"))
    if len(pair) != 2:
        raise ValidationError(
            f"timeout must be [connect, read] seconds, got {list(pair)}", field="timeout"
        )
    return pair


@attrs.frozen
class WhatsAppSettings:
    """Where the bridge is and how to talk to it.

    ``base_url`` and ``api_key`` fall back to the environment variables
    ``BROADCASTIO_WHATSAPP_BASE_URL`` and ``BROADCASTIO_WHATSAPP_API_KEY`` when not
    given, so neither has to be written into a config file; the URL's last resort
    is the bridge's default address, ``http://127.0.0.1:3000``. That fallback is
    ``with_environment``, applied once by the provider and by ``broadcastio
    config``, so what the configuration shows is what the provider uses. The
    variable's key goes only to the environment's bridge or one on this
    machine: settings naming another remote ``base_url`` take no key from it.

    ``timeout`` is ``(connect, read)`` in seconds. The read default (40 s) is the
    bridge's default ``BRIDGE_SEND_TIMEOUT_MS`` (30 s) plus a 10 s margin for the
    bridge's paced queue and the network: the client then hears the bridge's own
    answer instead of giving up first and turning a slow send into an ambiguous
    ``TIMEOUT``. Raise it together with ``BRIDGE_SEND_TIMEOUT_MS``. ``pool_size``
    bounds the keep-alive connections kept to the bridge: size it to the number
    of threads sending at once.

    Ranges (checked at construction, so a config file is refused when loaded):
    connect timeout ``(0, 300]``, read timeout ``(0, 3600]``, ``health_timeout``
    ``(0, 300]``, ``pool_size`` ``1..1000``.

    ``pacing`` is the provider's own pacing (``PacingSettings``; a table in a
    config file, or ``true`` for the defaults): off unless given, because the
    bridge paces every send by default with counters that survive its restarts.
    The bridge's risk pauses are honoured either way.
    """

    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout: tuple[float, float] = attrs.field(default=DEFAULT_TIMEOUT, converter=_to_timeout_pair)
    health_timeout: float = 2.0
    pool_size: int = 10
    retry_policy: RetryPolicy | None = None
    pacing: PacingSettings = attrs.field(default=PACING_OFF, converter=to_pacing)

    def __attrs_post_init__(self) -> None:
        if self.base_url is not None:
            check_base_url(self.base_url, "base_url")
        connect, read = self.timeout
        check_number(
            "timeout (connect)",
            connect,
            exclusive=True,
            maximum=CONNECT_TIMEOUT_MAX,
            field="timeout",
        )
        check_number(
            "timeout (read)", read, exclusive=True, maximum=READ_TIMEOUT_MAX, field="timeout"
        )
        check_number(
            "health_timeout", self.health_timeout, exclusive=True, maximum=HEALTH_TIMEOUT_MAX
        )
        check_int("pool_size", self.pool_size, minimum=1, maximum=POOL_SIZE_MAX)
        if self.api_key is not None:
            check_api_key(self.api_key, "api_key")
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}",
                field="retry_policy",
            )

    def with_environment(self, environ: Mapping[str, str]) -> WhatsAppSettings:
        """These settings with ``base_url`` and ``api_key`` filled in from ``environ``.

        A value given explicitly always wins; an empty variable counts as unset.
        ``base_url`` ends up set in any case (the bridge's default address as the
        last resort), so the result is exactly what the provider will use. A bad
        value in a variable is a ``ValidationError`` naming the variable, since
        that is where the user has to fix it. Applying it twice changes nothing.

        ``BROADCASTIO_WHATSAPP_API_KEY`` fills in ``api_key`` only for a bridge
        the key is meant for: the environment's (``base_url`` unset, or the
        same server as ``BROADCASTIO_WHATSAPP_BASE_URL``, else the default
        address) or one on this machine (a loopback host, where the key never
        leaves it). Settings naming another remote bridge take no key from the
        environment, which would otherwise go in a header to whoever runs it.
        """
        base_url = self.base_url
        if base_url is None:
            from_environment = environ.get(BASE_URL_ENV)
            base_url = (
                check_base_url(from_environment, BASE_URL_ENV)
                if from_environment
                else DEFAULT_BASE_URL
            )
        api_key = self.api_key
        meant_for = (
            self.base_url is None
            or _on_this_machine(self.base_url)
            or _same_server(self.base_url, environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
        )
        if api_key is None and environ.get(API_KEY_ENV) and meant_for:
            api_key = check_api_key(environ[API_KEY_ENV], API_KEY_ENV)
        if base_url == self.base_url and api_key == self.api_key:
            return self
        return attrs.evolve(self, base_url=base_url, api_key=api_key)


def _server(url: str) -> tuple[str, str, int | None, str]:
    """Scheme, host, port (the scheme's default filled in) and path of a base URL."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    host = (parts.hostname or "").rstrip(".")
    return (parts.scheme.lower(), host, port or default, parts.path.rstrip("/"))


def _same_server(first: str, second: str) -> bool:
    """Whether two base URLs address one bridge."""
    return _server(first) == _server(second)


def _on_this_machine(url: str) -> bool:
    """Whether the URL's host is a loopback name or address (``localhost``, ``127.x``, ``::1``)."""
    host = _server(url)[1]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

"""Settings of the WhatsApp provider, as written in code or a config file."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import attrs

from broadcastio import RetryPolicy, ValidationError
from broadcastio.core.checks import check_int, check_iterable, check_number, check_text

__all__ = ["DEFAULT_BASE_URL", "WhatsAppSettings", "check_base_url"]

DEFAULT_BASE_URL = "http://127.0.0.1:3000"


def check_base_url(url: str, source: str) -> str:
    """Reject anything but a plain http(s) URL, naming where it came from."""
    check_text(source, url)
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(f"{source} has an invalid port: {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{source} must be an http(s) URL like {DEFAULT_BASE_URL}, got {url!r}"
        )
    if parts.query or parts.fragment:
        raise ValidationError(f"{source} must not have a query or fragment: {url!r}")
    return url


def _to_timeout_pair(value: Any) -> tuple[float, float]:
    pair = tuple(check_iterable("timeout", value, "two numbers, [connect, read]"))
    if len(pair) != 2:
        raise ValidationError(f"timeout must be [connect, read] seconds, got {list(pair)}")
    return pair


@attrs.frozen
class WhatsAppSettings:
    """Where the bridge is and how to talk to it.

    ``base_url`` and ``api_key`` fall back to the environment variables
    ``BROADCASTIO_WHATSAPP_BASE_URL`` and ``BROADCASTIO_WHATSAPP_API_KEY`` when not
    given, so neither has to be written into a config file; the URL's last resort
    is the bridge's default address, ``http://127.0.0.1:3000``.

    ``timeout`` is ``(connect, read)`` in seconds. Keep the read timeout above the
    bridge's ``BRIDGE_SEND_TIMEOUT_MS`` plus the time a message may wait in the
    bridge's paced queue; otherwise the client gives up first and every slow send
    becomes an ambiguous ``TIMEOUT``. ``pool_size`` bounds the keep-alive connections
    kept to the bridge: size it to the number of threads sending at once.
    """

    base_url: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout: tuple[float, float] = attrs.field(default=(5.0, 60.0), converter=_to_timeout_pair)
    health_timeout: float = 2.0
    pool_size: int = 10
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        if self.base_url is not None:
            check_base_url(self.base_url, "base_url")
        check_number("timeout (connect)", self.timeout[0], minimum=0, exclusive=True)
        check_number("timeout (read)", self.timeout[1], minimum=0, exclusive=True)
        check_number("health_timeout", self.health_timeout, minimum=0, exclusive=True)
        check_int("pool_size", self.pool_size, minimum=1)
        if self.api_key is not None:
            check_text("api_key", self.api_key)
            # It becomes an HTTP header: surrounding blanks and control characters
            # would either be rejected by requests or silently never match.
            if self.api_key != self.api_key.strip() or any(
                ord(char) < 32 or ord(char) == 127 for char in self.api_key
            ):
                raise ValidationError(
                    "api_key must not have surrounding blanks or control characters"
                )
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}"
            )

"""Settings of the WhatsApp provider, as written in code or a config file."""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from broadcastio import RetryPolicy, ValidationError

__all__ = ["DEFAULT_BASE_URL", "WhatsAppSettings", "check_base_url"]

DEFAULT_BASE_URL = "http://127.0.0.1:3000"


def check_base_url(url: str, source: str) -> str:
    """Reject anything but a plain http(s) URL, naming where it came from."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{source} must be an http(s) URL like {DEFAULT_BASE_URL}, got {url!r}"
        )
    if parts.query or parts.fragment:
        raise ValidationError(f"{source} must not have a query or fragment: {url!r}")
    return url


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
    timeout: tuple[float, float] = (5.0, 60.0)
    health_timeout: float = 2.0
    pool_size: int = 10
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        if self.base_url is not None:
            check_base_url(self.base_url, "base_url")
        if len(self.timeout) != 2 or not all(t > 0 for t in self.timeout):
            raise ValidationError(
                f"timeout must be [connect, read] seconds, both > 0, got {list(self.timeout)}"
            )
        if not self.health_timeout > 0:
            raise ValidationError(f"health_timeout must be > 0, got {self.health_timeout}")
        if self.pool_size < 1:
            raise ValidationError(f"pool_size must be >= 1, got {self.pool_size}")
        if self.api_key is not None and not self.api_key.strip():
            raise ValidationError("api_key must not be blank (omit it to use the environment)")

"""Settings of an Apprise provider instance, as written in code or a config file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from broadcastio import RetryPolicy, ValidationError
from broadcastio.records.checks import check_number
from broadcastio.records.serialization import converter
from broadcastio_apprise.urls import AppriseUrl, load_url

__all__ = ["TIMEOUT_MAX", "AppriseSettings"]

# Far beyond any useful value: a typo (timeout = 30000) is refused when the
# configuration is loaded instead of holding a sending thread for hours.
TIMEOUT_MAX = 600.0


def _to_urls(value: Any) -> tuple[AppriseUrl, ...]:
    """Each item an ``AppriseUrl``; strings are checked by Apprise here.

    Written for Python callers (``AppriseSettings(urls=["json://..."])``); a
    config file reaches ``_structure_url`` below item by item instead, so
    its errors sit at ``urls[INDEX]``.
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(
            f"urls must be a list of Apprise URLs, got {type(value).__name__}", field="urls"
        )
    urls = []
    for index, item in enumerate(value):
        if isinstance(item, AppriseUrl):
            urls.append(item)
            continue
        try:
            urls.append(load_url(item)[0])
        except (ValidationError, TypeError) as exc:
            raise ValidationError(f"urls[{index}]: {exc}", field="urls") from None
    return tuple(urls)


@attrs.frozen
class AppriseSettings:
    """Which Apprise URLs an instance notifies, and how long a send may take.

    ``urls``: one or more Apprise URLs (``json://``, ``mailtos://``,
    ``tgram://``, ``discord://``...); every send notifies all of them. Write
    secrets as ``${VAR}`` in a config file, so they stay out of it. Each URL
    is checked by Apprise when the settings are built: an unknown scheme, a
    URL the service cannot use, or ``retry=`` (retries belong to broadcastio's
    retry policy) is refused, naming ``urls[INDEX]``. A URL is only ever shown
    redacted (``repr``, ``broadcastio config``, errors, traces).

    ``timeout``: seconds a send may take, for all URLs together; a service
    still unfinished then is a ``TIMEOUT``. Range ``(0, 600]``.

    ``retry_policy``: this provider's retry policy in code (a config file's
    ``[providers.NAME.retry]`` table does the same).
    """

    urls: tuple[AppriseUrl, ...] = attrs.field(default=(), converter=_to_urls)
    timeout: float = 30.0
    retry_policy: RetryPolicy | None = None

    def __attrs_post_init__(self) -> None:
        check_number("timeout", self.timeout, exclusive=True, maximum=TIMEOUT_MAX)
        if self.retry_policy is not None and not isinstance(self.retry_policy, RetryPolicy):
            raise ValidationError(
                f"retry_policy must be a RetryPolicy, got {type(self.retry_policy).__name__}",
                field="retry_policy",
            )


def _structure_url(value: Any, _: type) -> AppriseUrl:
    return load_url(value)[0]


# The shared converter reads config files and prints ``broadcastio config``:
# a URL is checked one item at a time there (so an error names urls[INDEX]),
# and is only ever written out in its redacted form. Settings written out so
# are for reading; they cannot be turned back into working settings.
converter.register_structure_hook(AppriseUrl, _structure_url)
converter.register_unstructure_hook(AppriseUrl, lambda url: url.shown)

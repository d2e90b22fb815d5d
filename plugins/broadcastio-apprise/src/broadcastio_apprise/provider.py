"""``AppriseProvider``: one instance notifies a fixed set of Apprise URLs, once per attempt."""

from __future__ import annotations

import collections
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar

from broadcastio import (
    AttachmentError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    ProviderHealth,
    ValidationError,
)
from broadcastio.providers.base import settings_from_arguments
from broadcastio_apprise.logs import scrubbing
from broadcastio_apprise.settings import AppriseSettings
from broadcastio_apprise.urls import AppriseUrl, load_url

if TYPE_CHECKING:
    # Apprise is imported when a provider is built, never when the plugin is
    # loaded (it costs ~100 ms and ~100 modules).
    from apprise import AppriseAsset
    from apprise.plugins import NotifyBase

__all__ = ["READ_TIMEOUT_MARGIN", "REMEMBERED_MESSAGES", "AppriseProvider"]

logger = logging.getLogger("broadcastio")

READ_TIMEOUT_MARGIN = 1.0
"""Seconds a service's socket read timeout exceeds ``timeout``, unless its URL sets ``rto=``.

Apprise's own read timeout (4 s) would otherwise end a slow answer first, and
Apprise reports that as an ordinary failure; a slow service is then retried
as if nothing had been sent. Outlasting ``timeout`` lets Apprise's deadline
end the wait, which it reports as a timeout: the honest ``TIMEOUT``."""

REMEMBERED_MESSAGES = 10_000
"""How many partly delivered messages an instance remembers (oldest forgotten first)."""

_CLOSED = "this AppriseProvider was closed; create a new one to send again"


class AppriseProvider(MessageProvider):
    """Notifies every Apprise URL of the instance with the message's title, text and attachment.

    An instance is a channel: its URLs are its destinations, so it needs no
    address from the recipient (``address_kind = None``) and sends the same
    notification whoever the message is for. One attempt notifies each URL
    once, Apprise running them in parallel; the attempt is delivered only if
    every URL took the message (a partial failure is a failure, each URL's
    outcome in ``details["urls"]``). See ``broadcastio_apprise.outcomes`` for
    the error codes.

    Nothing is retried here, but a retry by the orchestrator (same
    ``reference_id`` and recipient) notifies only the URLs that did not take
    the message yet: the instance remembers, in memory, which URLs took a
    partly delivered message (``REMEMBERED_MESSAGES`` at most). A resumed
    broadcast in a new process does not have that memory.

    Each sending thread notifies through service objects of its own, built
    from the URLs the first time it sends (the constructing thread's are
    handed to the first thread that sends). Apprise does not document its
    service objects as safe to share between threads, and some keep state
    between notifications: the time of the last request for its pacing
    (``request_rate_per_sec``), a token fetched on first use, a chat id
    detected once. So no service object is ever in two sends at once. A
    side effect: Apprise's own pacing of a service applies per sending
    thread; pace an instance as a whole with its ``rate_limit``.

    The instance name defaults to ``apprise``; ``[providers.alerts] type =
    "apprise"`` names it ``alerts`` (``name=`` in code does the same).
    """

    name = "apprise"
    address_kind: ClassVar[str | None] = None
    settings_type = AppriseSettings

    def __init__(
        self,
        settings: AppriseSettings | None = None,
        /,
        *,
        name: str | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings_from_arguments(
            AppriseSettings, settings, overrides, owner="AppriseProvider"
        )
        if not settings.urls:
            raise ValidationError(
                "AppriseProvider needs urls: one or more Apprise URLs, "
                'e.g. urls = ["json://hooks.example.com/notify"]',
                field="urls",
            )
        if name is not None:
            # ``name`` is a class attribute on MessageProvider; an instance's own
            # name shadows it for this object only.
            self.__dict__["name"] = name
        self.settings = settings
        self.retry_policy = settings.retry_policy
        self.urls: tuple[AppriseUrl, ...] = settings.urls
        self._asset = _asset(settings.timeout)
        # Built here so that a URL Apprise cannot use fails construction; kept
        # for health (which only reads them) and handed to the first sender.
        self._services = [self._service(index, url) for index, url in enumerate(settings.urls)]
        self._unclaimed: list[NotifyBase] | None = self._services
        self._local = threading.local()
        self._secrets = tuple(secret for url in settings.urls for secret in url.secrets)
        self._delivered: collections.OrderedDict[tuple[str, str], frozenset[int]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()
        self._closed = False

    def _service(self, index: int, url: AppriseUrl) -> NotifyBase:
        """The Apprise service object for ``url``, built with this provider's asset."""
        try:
            _, service = load_url(url.value, asset=self._asset)
        except (ValidationError, TypeError) as exc:
            raise ValidationError(f"urls[{index}]: {exc}", field="urls") from None
        if not url.read_timeout_set:
            service.socket_read_timeout = self.settings.timeout + READ_TIMEOUT_MARGIN
        return service

    def send(self, message: Message) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, _CLOSED)
        attach = None
        if message.attachment is not None:
            try:
                attach = _attachment(message)
            except AttachmentError as error:
                return DeliveryResult.failed(
                    self.name, ErrorCode.ATTACHMENT_NOT_FOUND, error.message, **error.details
                )
        import apprise

        from broadcastio_apprise.outcomes import result_from_apprise

        key = (message.metadata.reference_id, self.address_of(message))
        with self._lock:
            done = self._delivered.get(key, frozenset())
        pending = [index for index in range(len(self._services)) if index not in done]
        try:
            services = self._thread_services()
        except ValidationError as error:  # the URLs passed once; a plugin changed its mind
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_MISCONFIGURED, error.message)
        notifier = apprise.Apprise(asset=self._asset)
        for index in pending:
            notifier.add(services[index])
        logger.debug(
            "%s: notifying %d Apprise URL(s)%s",
            self.name,
            len(pending),
            f" ({len(done)} already took this message)" if done else "",
        )
        with (
            scrubbing(self._secrets),
            notifier.notify(
                body=message.content or "",
                title=message.title or "",
                body_format=apprise.NotifyFormat.TEXT,
                attach=attach,
                timeout=self.settings.timeout,
            ) as outcome,
        ):
            result, delivered = result_from_apprise(
                outcome,
                provider=self.name,
                urls=self.urls,
                notified=pending,
                skipped=sorted(done),
                timeout=self.settings.timeout,
            )
        self._remember(key, done | frozenset(delivered), finished=result.success)
        return result

    def _thread_services(self) -> list[NotifyBase]:
        """This thread's own service objects, one per URL, built on its first send."""
        services: list[NotifyBase] | None = getattr(self._local, "services", None)
        if services is None:
            with self._lock:
                services, self._unclaimed = self._unclaimed, None
            if services is None:
                services = [self._service(index, url) for index, url in enumerate(self.urls)]
            self._local.services = services
        return services

    def _remember(self, key: tuple[str, str], delivered: frozenset[int], *, finished: bool) -> None:
        """Keep which URLs took a partly delivered message; forget a finished one."""
        with self._lock:
            if finished or not delivered:
                self._delivered.pop(key, None)
                return
            self._delivered[key] = delivered
            self._delivered.move_to_end(key)
            while len(self._delivered) > REMEMBERED_MESSAGES:
                self._delivered.popitem(last=False)

    def health(self) -> ProviderHealth:
        """Ready when every URL is loaded and its Apprise plugin enabled; no service is contacted.

        Apprise offers no way to check a service without notifying it, so
        this is a check of what a send needs locally (the URLs parsed when the
        provider was built, their plugins' packages are installed). An outage
        or a revoked token shows up as a failed send, not here.
        """
        if self._closed:
            return ProviderHealth(provider=self.name, ready=False, details={"reason": _CLOSED})
        disabled = [
            f"urls[{index}] ({url.service})"
            for index, (url, service) in enumerate(zip(self.urls, self._services, strict=True))
            if not service.enabled
        ]
        details: dict[str, Any] = {
            "urls": [url.shown for url in self.urls],
            "services": [url.service for url in self.urls],
            "checked": "URLs and plugins only; no service is contacted",
        }
        if disabled:
            details["reason"] = f"Apprise disabled {', '.join(disabled)} on this system"
            return ProviderHealth(provider=self.name, ready=False, details=details)
        return ProviderHealth(provider=self.name, ready=True, details=details)

    def close(self) -> None:
        """Refuse later sends; Apprise's service objects hold no open connection between sends.

        Idempotent: the provider's owner and an orchestrator may both close it.
        """
        with self._lock:
            self._closed = True
            self._delivered.clear()


def _asset(timeout: float) -> AppriseAsset:
    """What every service of one provider is built with.

    ``service_timeout`` bounds each service; ``secure_logging`` keeps
    Apprise's own log lines free of URL secrets; memory storage keeps Apprise
    from writing its persistent cache under the user's home directory.
    """
    import apprise

    return apprise.AppriseAsset(service_timeout=timeout, secure_logging=True, storage_mode="memory")


def _attachment(message: Message) -> Any:
    """The message's attachment as an Apprise in-memory attachment (read once, here)."""
    from apprise.attachment.memory import AttachMemory

    attachment = message.attachment
    assert attachment is not None
    content = attachment.read_bytes()
    name = attachment.filename or (attachment.path.name if attachment.path else "attachment")
    return AttachMemory(  # type: ignore[no-untyped-call]
        content=content,
        name=name,
        mimetype=attachment.mime_type or "application/octet-stream",
    )

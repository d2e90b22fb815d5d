"""``WebhookProvider``: one HTTP POST per attempt, over a keep-alive session kept per thread."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import urllib.parse
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
from broadcastio.providers.trace_headers import outgoing_trace_headers
from broadcastio_webhook.formats import Body, BodyError, MessageFields, build_body
from broadcastio_webhook.settings import WebhookSettings
from broadcastio_webhook.signing import SIGNATURE_HEADER, signature
from broadcastio_webhook.urls import origin_of, redact_url, url_problem

if TYPE_CHECKING:
    # requests is imported when a provider is created, not when the plugin is
    # loaded: listing plugins (``broadcastio plugins``, ``--help``) costs no
    # HTTP stack.
    import requests

__all__ = ["ADDRESS_KIND", "MAX_REDIRECTS", "USER_AGENT", "WebhookProvider", "idempotency_key"]

logger = logging.getLogger("broadcastio")

ADDRESS_KIND = "webhook"
"""The address kind of a contact's own webhook URL, used when ``url`` is unset."""

MAX_REDIRECTS = 5
USER_AGENT = "broadcastio-webhook/0.1"

# 301/302 are re-sent as POST with the same body (as curl's --post301/--post302
# do): turning a webhook POST into a GET, as browsers do, would lose the
# message. 303 "See Other" says the POST was handled and the answer is
# elsewhere: that is a delivery.
_FOLLOWED = frozenset({301, 302, 307, 308})


def idempotency_key(message: Message, recipient: str) -> str:
    """The ``Idempotency-Key`` header: the same for every retry and resume of a message.

    Derived from ``metadata.reference_id`` (shared by every attempt, kept by
    the broadcast journal across a resume) and the address, so one reference
    id reused for a campaign still gives each recipient a key of its own.
    Hashed, so the header is ASCII whatever the reference id holds, and a
    contact's URL never appears in it.
    """
    digest = hashlib.sha256(f"{message.metadata.reference_id}\x00{recipient}".encode()).hexdigest()
    return f"bio-{digest[:48]}"


_hiding = threading.local()
"""``active`` is true in a thread while this provider's request is under way."""


class _HideRequestTargets(logging.Filter):
    """Replaces the request target in urllib3's debug lines logged during a webhook request.

    urllib3 logs every request at debug level as ``"POST /services/T…/B…/…"``,
    and ``broadcastio -vv`` shows debug lines: the line would print the
    secret part of the URL. Only the provider's own requests are touched
    (a flag set in the sending thread for the request's duration), so other
    users of requests in the process keep their paths in the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_hiding, "active", False) and isinstance(record.args, tuple):
            record.args = tuple(
                "/***" if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True


_filter_lock = threading.Lock()
_filter_installed = False


def _install_log_filter() -> None:
    """Attach the filter to urllib3's connection-pool logger, once per process."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_HideRequestTargets())
            _filter_installed = True


class _Redirected(Exception):
    """A redirect the provider will not follow; carries the result to return."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.error.message if result.error else "redirect")
        self.result = result


class WebhookProvider(MessageProvider):
    """Posts each message as JSON to a webhook: a channel's URL or each contact's own.

    With ``url`` set, the instance is a channel: every message goes there and
    the provider needs no address (``address_kind`` is ``None``; a plain
    recipient string, or a contact's key, travels in the ``json`` body's
    ``recipient``). Without ``url``, the instance posts to each recipient's
    URL: ``address_kind`` is ``"webhook"``, and a contact's ``webhook``
    address (or a plain recipient string that is a URL) is where it goes.

    Each sending thread has its own ``requests.Session`` (keep-alive, no
    transport retries, cookies refused), as the requests maintainers advise
    for threads: a session's cookie jar and its pool manager's per-host pools
    are not safe to share when many hosts (per-contact URLs) are in play.
    Sessions of threads that have ended are closed when the next one opens,
    and ``close()`` closes them all, after which every call fails without
    connecting. Nothing is retried here; every outcome is a ``DeliveryResult``.

    Redirects are followed (up to five, re-posting the same body) only to the
    same host and never from ``https`` down to ``http``; any other is refused,
    so a secret URL's message and headers never reach a host nobody configured.
    """

    name = "webhook"
    address_kind: ClassVar[str | None] = None
    settings_type = WebhookSettings

    def __init__(
        self,
        settings: WebhookSettings | None = None,
        /,
        *,
        name: str | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings_from_arguments(
            WebhookSettings, settings, overrides, owner="WebhookProvider"
        )
        if name is not None:
            # ``name`` is a class attribute on MessageProvider; an instance's own
            # name (``[providers.team-slack]``) shadows it for this object only.
            self.__dict__["name"] = name
        if settings.per_contact:
            # Decided by the settings, so set on the instance like ``name``.
            self.__dict__["address_kind"] = ADDRESS_KIND
        self.settings = settings
        self.retry_policy = settings.retry_policy
        import requests

        self._request_error = requests.RequestException
        _install_log_filter()
        self._verify: bool | str = settings.ca_file if settings.ca_file is not None else True
        self._timeout = (settings.timeout, settings.timeout)
        self._local = threading.local()
        self._sessions: list[tuple[threading.Thread, requests.Session]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.sessions_opened = 0
        """How many sessions (one per sending thread) this provider has opened."""

    @property
    def per_contact(self) -> bool:
        """Whether messages go to each recipient's URL rather than one configured URL."""
        return self.settings.per_contact

    # -- sending -----------------------------------------------------------------------

    def send(self, message: Message) -> DeliveryResult:
        if self._closed:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, _CLOSED)
        try:
            address = self.address_of(message)
        except ValidationError as error:
            return DeliveryResult.failed(self.name, ErrorCode.INVALID_RECIPIENT, error.message)
        if self.settings.url is None:
            problem = url_problem(address)
            if problem is not None:
                return DeliveryResult.failed(
                    self.name,
                    ErrorCode.INVALID_RECIPIENT,
                    f"the recipient's webhook address {problem} "
                    f"(expected a contact's {ADDRESS_KIND} address such as https://example.com/hook)",
                    url=redact_url(address),
                )
            url = address
        else:
            url = self.settings.url
        try:
            body = self.build_body(message, address)
        except AttachmentError as error:
            return DeliveryResult.failed(
                self.name, ErrorCode.ATTACHMENT_NOT_FOUND, error.message, **error.details
            )
        except BodyError as error:
            code = error.code
            if code is ErrorCode.PROVIDER_MISCONFIGURED and self.per_contact:
                code = ErrorCode.INVALID_RECIPIENT  # the contact's URL, not the settings
            return DeliveryResult.failed(self.name, code, error.message, url=redact_url(url))
        # traceparent first, so nothing of ours can be overwritten by it; {} and
        # no cost when nothing traces.
        headers = outgoing_trace_headers()
        headers["Content-Type"] = body.content_type
        headers["Idempotency-Key"] = idempotency_key(message, address)
        if self.settings.signing_secret is not None:
            headers[SIGNATURE_HEADER] = signature(
                self.settings.signing_secret, int(time.time()), body.content
            )
        return self._post(body, headers)

    def build_body(self, message: Message, address: str | None = None) -> Body:
        """The request a message becomes: body bytes, content type, target URL, truncation.

        Public so a caller can see exactly what a message becomes without a
        server (a preview, a test). ``address`` is the recipient as this
        provider sees it (``address_of``); it goes into the ``json`` body's
        ``recipient`` for a channel, never for a per-contact URL. Raises
        ``AttachmentError`` (an unreadable file) and ``BodyError`` (a message
        the format cannot express).
        """
        if address is None:
            address = self.address_of(message)
        attachment = message.attachment
        attached = None
        if attachment is not None:
            attached = (
                attachment.filename or "attachment",
                attachment.mime_type or "application/octet-stream",
                attachment.read_bytes(),
            )
        metadata = message.metadata
        fields = MessageFields(
            text=message.content,
            title=message.title,
            reference_id=metadata.reference_id,
            recipient=None if self.per_contact else address,
            priority=metadata.priority,
            tags=metadata.tags,
            extra=metadata.extra,
            attachment=attached,
        )
        url = address if self.settings.url is None else self.settings.url
        return build_body(self.settings.format, fields, url, self.settings.template)

    def _post(self, body: Body, headers: dict[str, str]) -> DeliveryResult:
        _hiding.active = True
        try:
            return self._post_hidden(body, headers)
        finally:
            _hiding.active = False

    def _post_hidden(self, body: Body, headers: dict[str, str]) -> DeliveryResult:
        target = body.url
        shown = redact_url(target)
        try:
            session = self._thread_session()
            for _ in range(MAX_REDIRECTS + 1):
                # Not streamed: requests reads the whole answer and hands the
                # connection back to the pool before returning.
                response = session.post(
                    target,
                    data=body.content,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                    verify=self._verify,
                )
                status = response.status_code
                if status not in _FOLLOWED or "Location" not in response.headers:
                    break
                target = self._redirect_target(target, response.headers["Location"], status)
                shown = redact_url(target)
            else:
                return DeliveryResult.failed(
                    self.name,
                    ErrorCode.PROVIDER_REJECTED,
                    f"the webhook at {shown} redirected more than {MAX_REDIRECTS} times",
                    url=shown,
                )
        except _Redirected as refused:
            return refused.result
        except self._request_error as error:
            from broadcastio_webhook.outcomes import result_from_exception

            result = result_from_exception(
                self.name,
                error,
                shown_url=shown,
                secrets=_secrets(target),
                timeout=self.settings.timeout,
            )
            logger.debug("%s: POST to %s failed: %s", self.name, shown, result.error)
            return result
        if 200 <= status < 300 or status == 303:
            details: dict[str, Any] = {"status": status, "url": shown}
            if body.truncated:
                details["truncated"] = True
            return DeliveryResult.delivered(
                self.name, _message_id(response) or headers["Idempotency-Key"], **details
            )
        from broadcastio_webhook.outcomes import result_from_status

        return result_from_status(
            self.name,
            status,
            response.headers,
            response.content,
            shown_url=shown,
            secrets=_secrets(target),
            per_contact=self.per_contact,
        )

    def _redirect_target(self, current: str, location: str, status: int) -> str:
        """Where a redirect leads, if it may be followed; raises ``_Redirected`` if not."""
        target = urllib.parse.urljoin(current, location)
        scheme, host, _ = origin_of(current)
        problem = url_problem(target)
        new_scheme, new_host, _ = origin_of(target) if problem is None else ("", "", 0)
        if (
            problem is None
            and new_host == host
            and not (scheme == "https" and new_scheme == "http")
        ):
            return target
        code = ErrorCode.INVALID_RECIPIENT if self.per_contact else ErrorCode.PROVIDER_MISCONFIGURED
        where = "the contact's webhook address" if self.per_contact else "url"
        raise _Redirected(
            DeliveryResult.failed(
                self.name,
                code,
                f"the webhook at {redact_url(current)} redirected (HTTP {status}) to "
                f"{redact_url(target)}; redirects are only followed to the same host and never "
                f"from https to http, so nothing was sent there; update {where} if it moved",
                status=status,
                url=redact_url(current),
                redirected_to=redact_url(target),
            )
        )

    # -- health ------------------------------------------------------------------------

    def health(self) -> ProviderHealth:
        """Ready when the configured URL's server answers a ``HEAD`` within ``health_timeout``.

        No message is posted for health. Any answer counts as "the server is
        there" (a ``HEAD`` to a POST-only endpoint often gets 404 or 405),
        except 401/403 (the headers' credentials are refused), 429 (it is
        refusing requests now) and 5xx (it is failing). A per-contact
        instance has no URL of its own to check and is ready until a send
        says otherwise.
        """
        if self._closed:
            return ProviderHealth(provider=self.name, ready=False, details={"reason": _CLOSED})
        url = self.settings.url
        if url is None:
            return ProviderHealth(
                provider=self.name,
                ready=True,
                details={
                    "url": f"each contact's {ADDRESS_KIND} address",
                    "format": self.settings.format,
                },
            )
        shown = redact_url(url)
        timeout = self.settings.health_timeout
        _hiding.active = True
        try:
            response = self._thread_session().head(
                url, timeout=(timeout, timeout), allow_redirects=False, verify=self._verify
            )
        except self._request_error as error:
            from broadcastio_webhook.outcomes import result_from_exception

            result = result_from_exception(
                self.name, error, shown_url=shown, secrets=_secrets(url), timeout=timeout
            )
            assert result.error is not None
            return ProviderHealth(
                provider=self.name,
                ready=False,
                details={
                    "reason": result.error.message,
                    "code": str(result.error.code),
                    **result.error.details,
                },
            )
        finally:
            _hiding.active = False
        status = response.status_code
        details: dict[str, Any] = {"url": shown, "status": status, "format": self.settings.format}
        if status in (401, 403) or status == 429 or status >= 500:
            words = {401: "refused the credentials", 403: "refused the credentials"}.get(
                status, "is refusing requests" if status == 429 else "is failing"
            )
            details["reason"] = f"the webhook at {shown} {words} (HTTP {status} to HEAD)"
            return ProviderHealth(provider=self.name, ready=False, details=details)
        return ProviderHealth(provider=self.name, ready=True, details=details)

    # -- sessions ----------------------------------------------------------------------

    def _thread_session(self) -> requests.Session:
        """This thread's session, opened on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            return session
        session = self._open_session()
        ended: list[requests.Session] = []
        with self._lock:
            if self._closed:
                session.close()
                raise self._request_error(_CLOSED)
            kept = [(thread, other) for thread, other in self._sessions if thread.is_alive()]
            ended = [other for thread, other in self._sessions if not thread.is_alive()]
            self._sessions = [*kept, (threading.current_thread(), session)]
            self.sessions_opened += 1
        for other in ended:
            other.close()
        self._local.session = session
        return session

    def _open_session(self) -> requests.Session:
        import http.cookiejar

        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        # No transport-level retries: retrying is the orchestrator's decision.
        # A few hosts per thread (per-contact URLs), one connection to each.
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=1, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # A receiver's cookies are never stored, so never sent to another contact.
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        session.headers["User-Agent"] = USER_AGENT
        session.headers.update(self.settings.headers)
        return session

    def close(self) -> None:
        """Close every thread's session and its connections; later calls fail without connecting.

        Idempotent: the provider's owner and an orchestrator may both close it.
        """
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for _, session in sessions:
            session.close()

    def __repr__(self) -> str:
        target = (
            "each contact's URL" if self.settings.url is None else redact_url(self.settings.url)
        )
        return (
            f"WebhookProvider(name={self.name!r}, format={self.settings.format!r}, url={target!r})"
        )


_CLOSED = "this WebhookProvider was closed; create a new one to send again"


def _secrets(url: str) -> tuple[str, ...]:
    """The parts of ``url`` never to repeat: its path (with the query) and its query alone."""
    parts = urllib.parse.urlsplit(url)
    path_and_query = parts.path + ("?" + parts.query if parts.query else "")
    parts_shown = (path_and_query, parts.path, parts.query)
    return tuple(part for part in parts_shown if part not in ("", "/"))


def _message_id(response: requests.Response) -> str | None:
    """The id the receiver gave the message, when it answers JSON with one (ntfy, Discord)."""
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("id")
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    return None

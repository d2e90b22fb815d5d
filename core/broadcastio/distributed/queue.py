"""The queue URL: checked, redacted, and turned into a connected Dramatiq ``RedisBroker``.

Everything a person can get wrong about ``--queue`` is reported here, before
anything is recorded or sent, as a ``QueueError`` (a ``ConfigurationError``:
exit 2 on the command line) whose text names the URL with its password
replaced by ``***``: an unknown scheme, a missing host, Redis not answering,
a password Redis refuses, and the ``dramatiq`` extra not being installed.
Dramatiq and the Redis client are imported only here and only when a queue is
used, so ``import broadcastio`` never pays for them.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from broadcastio.errors import ConfigurationError

if TYPE_CHECKING:
    import dramatiq.brokers.redis

__all__ = [
    "QUEUE_NAME",
    "QueueError",
    "check_queue_url",
    "connect_broker",
    "redact_url",
    "require_dramatiq",
]

QUEUE_NAME = "broadcastio"
"""The Dramatiq queue the recipients' messages go through."""

ACTOR_NAME = "broadcastio_deliver_recipient"
"""The actor a worker declares; the submitter enqueues messages addressed to it."""

SCHEMES = ("redis", "rediss", "unix")
"""What ``--queue`` accepts: Redis over TCP, over TLS, or over a Unix socket."""

# How long connecting and each command may take before Redis counts as unreachable.
_CONNECT_SECONDS = 5.0

# Dramatiq's default is 60 s: how long an unacknowledged message of a worker
# that stopped sending heartbeats waits before another worker may take it.
DEFAULT_REDELIVERY_SECONDS = 60.0

# Out of a million Redis commands, how many also run Dramatiq's maintenance
# (moving a dead worker's unacknowledged messages back to the queue). Dramatiq's
# default, 1,000, means an idle fleet notices a crashed worker minutes late; the
# maintenance is a few cheap commands, so one command in ten runs it.
_MAINTENANCE_CHANCE = 100_000


class QueueError(ConfigurationError):
    """The queue cannot be used: a bad URL, Redis unreachable, a refused password, no extra."""


_SECRET_QUERY_NAMES = ("password", "pass", "pwd", "auth", "token", "secret")


def _redact_query(query: str) -> str:
    """``query`` with credential-like values (``password=``, as redis-py takes) as ``***``."""
    if not query:
        return query
    shown = []
    for field in query.split("&"):
        name, equals, _ = field.partition("=")
        secret = any(word in name.lower() for word in _SECRET_QUERY_NAMES)
        shown.append(f"{name}=***" if equals and secret else field)
    return "&".join(shown)


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for messages and logs.

    Both places a Redis URL can carry one are covered: the user-info part
    (``redis://:PASSWORD@host``) and the query (``redis://host/0?password=...``).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<an unparsable URL>"
    query = _redact_query(parts.query)
    if query != parts.query:
        # Edited in the text itself: urlunsplit would turn unix:///sock into unix:/sock.
        url = url.replace(f"?{parts.query}", f"?{query}", 1)
        parts = parts._replace(query=query)
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{user}:***@{host}" + (f":{port}" if port is not None else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_queue_url(url: str) -> str:
    """``url`` if it is a queue URL this version can use; ``QueueError`` saying why not."""
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as error:
        raise QueueError(
            f"--queue {shown}: not a valid URL ({error}); expected redis://[:PASSWORD@]HOST[:PORT]/DB",
            field="queue",
        ) from None
    if parts.scheme not in SCHEMES:
        scheme = f"{parts.scheme}://" if parts.scheme else "(none)"
        raise QueueError(
            f"--queue {shown}: unknown scheme {scheme}; the queue is Redis: use "
            + ", ".join(f"{known}://" for known in SCHEMES),
            field="queue",
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise QueueError(f"--queue {shown}: the URL names no host", field="queue")
    if parts.scheme == "unix" and not parts.path:
        raise QueueError(f"--queue {shown}: the URL names no socket path", field="queue")
    return url


def require_dramatiq() -> None:
    """``QueueError`` unless Dramatiq and its Redis client are installed (the extra)."""
    try:
        import dramatiq  # noqa: F401
        import redis  # noqa: F401
    except ImportError as error:
        raise QueueError(
            f"--queue needs Dramatiq and Redis's client ({error.name} is not installed): "
            "pip install 'broadcastio[dramatiq]'",
            field="queue",
        ) from None


def connect_broker(
    url: str, *, redelivery_seconds: float = DEFAULT_REDELIVERY_SECONDS
) -> dramatiq.brokers.redis.RedisBroker:
    """A Dramatiq ``RedisBroker`` on ``url`` whose Redis has answered a PING.

    Its only middleware is ``Retries(max_retries=0)``: a message whose actor
    raised goes to the dead-letter queue instead of being sent again (see
    ``docs/scaling.md``: the orchestrator retries deliveries, Dramatiq only
    redelivers the messages of crashed workers). Dramatiq's ``TimeLimit`` is
    left out on purpose: it interrupts a send at an arbitrary point, which is
    the one thing a journaled send must never be.
    """
    check_queue_url(url)
    require_dramatiq()
    import redis
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.middleware import Retries

    client = redis.Redis.from_url(
        url, socket_connect_timeout=_CONNECT_SECONDS, socket_timeout=_CONNECT_SECONDS + 25
    )
    ping(client, url)
    return RedisBroker(  # type: ignore[no-untyped-call]
        client=client,
        middleware=[Retries(max_retries=0)],
        heartbeat_timeout=int(redelivery_seconds * 1000),
        maintenance_chance=_MAINTENANCE_CHANCE,
    )


def ping(client: Any, url: str) -> None:
    """PING through ``client``; Redis's refusal or absence as a ``QueueError`` naming ``url``."""
    import redis

    shown = redact_url(url)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise QueueError(
            f"--queue {shown}: Redis refused the password (check the password in the URL)",
            field="queue",
        ) from None
    except redis.ResponseError as error:
        text = str(error)
        if "NOAUTH" in text or "AUTH" in text.upper():
            raise QueueError(
                f"--queue {shown}: Redis needs a password: redis://:PASSWORD@HOST:PORT/DB",
                field="queue",
            ) from None
        raise QueueError(f"--queue {shown}: Redis answered: {text}", field="queue") from None
    except redis.ConnectionError as error:
        raise QueueError(
            f"--queue {shown}: cannot reach Redis ({_first_line(error)})", field="queue"
        ) from None
    except redis.TimeoutError:
        raise QueueError(
            f"--queue {shown}: Redis did not answer within {_CONNECT_SECONDS:g} s", field="queue"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

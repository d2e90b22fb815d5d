"""The lease a queued broadcast holds while its messages are on the queue.

A submitter holds the journal's claim on a broadcast id only while it runs;
``--detach`` (or a killed submitter) lets it go while the workers are still
delivering. A resume started then (local, or through the queue) would send
the same rows at the same time as the workers. The lease closes that gap:

- In Redis, a counter of the broadcast's outstanding messages
  (``broadcastio:lease:DIGEST``): the submitter adds what it enqueues, plus
  one for itself while it enqueues; a worker takes one off once a message is
  done (journaled, skipped, or raised); a message put back on the queue for a
  rate limit adds one first. The key's name travels in each message.
- Next to the journal, a lease file (``JOURNAL.queued-DIGEST.lease``, 0600)
  that says which queue holds the messages (password redacted), so a local
  resume, which knows no Redis, can refuse too. Whoever takes the counter to
  zero removes the file.

A submission through the queue checks the counter: held, it is refused; the
file without the counter (Redis flushed, the messages lost) is stale and is
removed. A local resume refuses while the file exists and points to the
queued resume, which can tell a live lease from a stale one.

A journal on a server (``postgresql://``) has no directory to hold a lease
file, and its submitters and workers are on several machines anyway: its
lease is the Redis counter alone, keyed by the journal's URL (password
hidden) and the broadcast id. A resume through the queue is refused as
above; a local resume of such a journal cannot see the queue, so it is not
guarded: resume a queued broadcast of a PostgreSQL journal with ``--queue``
(docs/scaling.md).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from broadcastio.broadcast.journal.location import journal_display, sqlite_path
from broadcastio.distributed.queue import redact_url
from broadcastio.errors import ConfigurationError

__all__ = [
    "QueueLease",
    "QueuedBroadcastBusy",
    "lease_path",
    "message_done",
    "message_requeued",
    "refuse_while_queued",
]

logger = logging.getLogger("broadcastio")

# What a message's payload carries: the counter's key and the lease file's path.
LEASE_KEY = "lease"
LEASE_FILE = "lease_file"


class QueuedBroadcastBusy(ConfigurationError):
    """The broadcast's messages are still on the queue: a resume now would send rows twice."""


def _digest(broadcast_id: str) -> str:
    return hashlib.blake2b(
        broadcast_id.encode("utf-8", "surrogatepass"), digest_size=10
    ).hexdigest()


def lease_path(journal: str | os.PathLike[str], broadcast_id: str) -> Path | None:
    """The lease file of ``broadcast_id`` queued with ``journal`` (beside the journal).

    ``None`` for a journal on a server (a URL that names no file): its lease
    lives in Redis only.
    """
    file = sqlite_path(journal)
    if file is None:
        return None
    path = file.resolve()
    return path.with_name(f"{path.name}.queued-{_digest(broadcast_id)}.lease")


def _advice(broadcast_id: str, queue: str) -> str:
    return (
        f"broadcast {broadcast_id} was queued for workers on {queue} and its messages are "
        "still outstanding: a resume now would send those recipients a second time. Wait "
        f"until the workers have drained it (`broadcastio journal show {broadcast_id}`)"
    )


def refuse_while_queued(journal: str | os.PathLike[str], broadcast_id: str) -> None:
    """``QueuedBroadcastBusy`` if ``broadcast_id`` has a lease file beside ``journal``.

    For a run that knows no queue (a local resume): it cannot ask Redis
    whether the lease is live, so it trusts the file, and says how to clear
    a stale one (a resume through the queue checks the counter).
    """
    path = lease_path(journal, broadcast_id)
    if path is None:
        return  # a server's journal: its lease is in Redis only (see the module's docstring)
    try:
        if not path.is_file():
            return  # no lease (or no journal directory: the journal reports that)
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}  # a lease file there, unreadable: still a lease
    if not isinstance(recorded, dict):
        recorded = {}
    queue = str(recorded.get("queue") or "a Redis queue")
    raise QueuedBroadcastBusy(
        _advice(broadcast_id, queue) + ", or resume it with --queue (which checks the queue "
        f"and clears a lease whose messages are gone; lease file {path})",
        field="resume",
    )


class QueueLease:
    """The submitter's side of one broadcast's lease (see the module's docstring)."""

    def __init__(
        self, client: Any, journal: str | os.PathLike[str], broadcast_id: str, queue_url: str
    ) -> None:
        self.client = client
        self.broadcast_id = broadcast_id
        self.queue = redact_url(queue_url)
        self.path = lease_path(journal, broadcast_id)
        # A file journal's key is named after its lease file (one per file and id);
        # a server's after its URL without the password, and the id.
        named = (
            str(self.path)
            if self.path is not None
            else f"{journal_display(journal)}\n{broadcast_id}"
        )
        self.key = f"broadcastio:lease:{_digest(named)}"
        self._held = False

    def payload_fields(self) -> dict[str, str]:
        """What each message carries so a worker can count it done."""
        if self.path is None:
            return {LEASE_KEY: self.key}
        return {LEASE_KEY: self.key, LEASE_FILE: str(self.path)}

    def acquire(self) -> None:
        """Refuse while another submission's messages are outstanding; else hold the lease.

        A lease file whose counter is gone (Redis flushed) is stale: removed.
        """
        outstanding = int(self.client.get(self.key) or 0)
        if outstanding > 0:
            raise QueuedBroadcastBusy(
                _advice(self.broadcast_id, self.queue)
                + f" ({outstanding} message(s) outstanding)",
                field="resume",
            )
        if self.path is not None and self.path.exists():
            logger.info(
                "broadcast %s: removing a stale queue lease (its messages are gone): %s",
                self.broadcast_id,
                self.path,
            )
        # The submitter's own share: the lease cannot end while it is still enqueuing.
        self.client.incr(self.key)
        self._held = True
        if self.path is None:
            return
        record = {
            "broadcast_id": self.broadcast_id,
            "queue": self.queue,
            "since": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(record, file)

    def add(self, messages: int) -> None:
        """Count ``messages`` about to be enqueued."""
        if messages:
            self.client.incrby(self.key, messages)

    def release(self) -> None:
        """Give up the submitter's share; the lease ends here if every message is done."""
        if self._held:
            self._held = False
            try:
                _take_one(self.client, self.key, self.path)
            except Exception as error:  # noqa: BLE001 - do not hide what ended the submission
                logger.warning(
                    "broadcast %s: could not release its queue lease %s: %s",
                    self.broadcast_id,
                    self.key,
                    error,
                )


def message_done(client: Any, payload: dict[str, Any]) -> None:
    """A worker is done with a message (whatever happened): one fewer outstanding."""
    key = payload.get(LEASE_KEY)
    file = payload.get(LEASE_FILE)
    if isinstance(key, str):
        try:
            _take_one(client, key, Path(file) if isinstance(file, str) else None)
        except Exception as error:  # noqa: BLE001 - the lease is a guard, not the delivery
            logger.warning("could not count a message done in lease %s: %s", key, error)


def message_requeued(client: Any, payload: dict[str, Any]) -> None:
    """A message goes back on the queue (a rate limit): one more outstanding, first."""
    key = payload.get(LEASE_KEY)
    if isinstance(key, str):
        client.incr(key)


def _take_one(client: Any, key: str, path: Path | None) -> None:
    if int(client.decr(key)) <= 0:
        client.delete(key)
        if path is not None:
            path.unlink(missing_ok=True)

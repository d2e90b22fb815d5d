"""The lease a queued broadcast holds while its messages are on the queue.

A submitter holds the journal's claim on a broadcast id only while it runs;
``--detach`` (or a killed submitter) lets it go while the workers are still
delivering. A resume started then (local, or through the queue) would send
the same rows at the same time as the workers. The lease closes that gap. It
has two halves:

- In Redis, the count of the broadcast's outstanding messages
  (``broadcastio:lease:DIGEST``; the key's name travels in each message) and
  the submitter's share (``KEY:submitter``), a key the submitter keeps alive
  from a thread of its own while it enqueues, with a short expiry: a killed
  submitter's share lapses by itself, where a counted share would hold the
  lease for ever. A submitter whose share lapsed while it was alive (a
  stall) stops queuing: ``QueueLeaseLapsed``.
- In the journal, a mark that says "queued on QUEUE since T, counted in KEY"
  (``broadcast.journal.queued``: a file beside an SQLite journal, a row of
  ``queued_leases`` in PostgreSQL), so a run that knows no Redis (a local
  resume, on the command line or through ``broadcast()``) refuses too.
  Whoever ends the lease (count at zero, no submitter) removes the mark.

A submission through the queue checks the count and the share of the lease
the mark names (its own key, or another one on the same queue: the journal
named another way): held, it is refused; a mark without them (Redis flushed,
the messages lost, or a killed submitter whose messages were all done before
its share lapsed) is stale and replaced. A mark of another queue cannot be
checked from this one: refused.

Counting each message once, whatever Dramatiq repeats. A worker takes its
message off the count just before Dramatiq acknowledges it; a worker killed
in between leaves the message to be delivered again. So each message carries
the lease's ``token`` (which submission it belongs to) and a number, and the
count is kept as two bitmaps: ``KEY:counted`` and ``KEY:done``. Outstanding
means counted and not done; each Lua script sets one bit and moves the count
only when that bit changes the answer. Hence a message is counted once and
taken off once, in either order: a message is counted after it is enqueued
(a submitter or worker killed in between leaves one that is never counted,
never one counted and never enqueued), and one done before it is counted is
never counted at all. A deferred message's copy gets its number per original
(``KEY:copies``), so an original delivered again and deferred again queues
the same copy. A message of an earlier submission (another token) counts
nothing against a newer one. Two bits per message: 125 kB for 500,000.
Every key of the lease goes when it ends.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from broadcastio.broadcast.journal.location import journal_display
from broadcastio.broadcast.journal.queued import (
    QueuedBroadcastBusy,
    QueuedLease,
    lease_file,
    queued_advice,
)
from broadcastio.distributed.lease_scripts import (
    ACQUIRE,
    COPY,
    COUNT,
    DONE,
    END_IF_IDLE,
    LeaseKeys,
    REFRESH,
    RELEASE,
    RESERVE,
)
from broadcastio.distributed.queue import redact_url
from broadcastio.errors import ConfigurationError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal

__all__ = [
    "QueueLease",
    "QueueLeaseLapsed",
    "QueuedBroadcastBusy",
    "SUBMITTER_SHARE_SECONDS",
    "message_copy",
    "message_done",
    "message_queued",
]

logger = logging.getLogger("broadcastio")

SUBMITTER_SHARE_SECONDS = 15.0
"""How long a submitter's share outlives its last refresh (it refreshes every fifth of it)."""

# A message done that Redis did not take (a blip) would hold the lease for ever:
# tried this many times, 0.05 s, 0.1 s, then 0.2 s apart (under half a second in
# all, which the worker's thread spends before acknowledging the message).
_DONE_ATTEMPTS = 4
_DONE_FIRST_BACKOFF = 0.05

# What a message's payload carries: the count's key, the submission's token, the
# message's number. (Messages queued before tokens carry the key alone.)
LEASE_KEY = "lease"
LEASE_TOKEN = "lease_token"
LEASE_SEQUENCE = "lease_seq"


class QueueLeaseLapsed(ConfigurationError):
    """The submitter's share of its lease lapsed while it was still queuing: it stopped.

    The share lapses when the submitter stalls for ``SUBMITTER_SHARE_SECONDS``
    (SIGSTOP, a laptop asleep, Redis out of reach): the workers may then have
    ended the lease, and a message queued after that would be on the queue
    with nothing in the journal to stop a local resume sending its row too.
    So the submission fails closed. A ``ConfigurationError`` (exit 2): the
    environment, not the broadcast, is at fault. ``details`` holds
    ``broadcast_id``, ``queued`` (messages this submission put on the queue)
    and ``lease_key``.
    """


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


class QueueLease:
    """The submitter's side of one broadcast's lease (see the module's docstring).

    ``acquire`` takes it (or raises ``QueuedBroadcastBusy``); then, per batch,
    ``reserve`` numbers, enqueue the messages with ``payload_fields``, and
    ``count`` the ones enqueued; ``release`` lets go of the submitter's share.
    """

    def __init__(
        self,
        client: Any,
        journal: Journal,
        broadcast_id: str,
        queue_url: str,
        *,
        share_seconds: float = SUBMITTER_SHARE_SECONDS,
    ) -> None:
        self.client = client
        self.journal = journal
        self.broadcast_id = broadcast_id
        self.queue = redact_url(queue_url)
        # One lease per journal and id. A file journal's key is named after its
        # lease file; a server's after its URL without the password, and the id.
        named = (
            str(lease_file(journal.path, broadcast_id))
            if journal.path is not None
            else f"{journal_display(journal.location)}\n{broadcast_id}"
        )
        self.keys = LeaseKeys(f"broadcastio:lease:{_digest(named)}")
        self.key = self.keys.count
        self.token = uuid.uuid4().hex
        self._share_ms = max(1, int(share_seconds * 1000))
        self._held = False
        self._stop_refreshing = threading.Event()
        self._refresher: threading.Thread | None = None
        # Set once Redis says the share is gone; ``lapsed`` also trusts no share
        # unconfirmed for longer than it lives (the refresher may be stalled too).
        self._lapsed = threading.Event()
        self._confirmed = _clock()

    def acquire(self) -> None:
        """Refuse while the lease is held (messages outstanding, or a submitter's share
        alive); else hold it, and mark the broadcast in the journal.

        The lease checked is the one the journal's mark names, when there is
        one: the mark may come from a submission whose key differs (the same
        PostgreSQL journal under another spelling of its URL), checked on this
        queue; or from another queue, which this one cannot see into: refused.
        A mark whose lease is not held is stale: replaced.
        """
        stale = self.journal.queued_lease(self.broadcast_id)
        if stale is not None:
            self._refuse_if_held_elsewhere(stale)
        outstanding = self.keys.run(self.client, ACQUIRE, self.token, self._share_ms)
        if outstanding != 0:
            raise self._busy(outstanding, self.key)
        self._held = True
        try:
            self._refresher = threading.Thread(
                target=self._refresh, name="broadcastio-lease", daemon=True
            )
            self._refresher.start()
            if stale is not None:
                logger.info(
                    "broadcast %s: replacing a stale queue lease (its messages are gone): %s",
                    self.broadcast_id,
                    stale.where,
                )
            self.journal.hold_queued_lease(
                QueuedLease(
                    broadcast_id=self.broadcast_id,
                    queue=self.queue,
                    since=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    token=self.token,
                    key=self.key,
                )
            )
        except BaseException:
            self.release()
            raise

    def _refuse_if_held_elsewhere(self, mark: QueuedLease) -> None:
        """Refuse if ``mark``'s lease lives outside this submission's key and may be held."""
        if mark.queue != self.queue:
            since = f" since {mark.since}" if mark.since else ""
            raise QueuedBroadcastBusy(
                f"broadcast {self.broadcast_id} was queued for workers on {mark.queue}{since}, "
                f"not on {self.queue}, which cannot tell whether those messages are done: a "
                "resume now could send those recipients a second time. Resume it with --queue "
                "naming that queue (a lease it finds ended is cleared), or, if that queue and "
                f"its messages are gone for good, remove the mark ({mark.where})",
                field="resume",
            )
        if mark.key and mark.key != self.key:
            # The same queue, the journal named another way: its lease is that key's.
            outstanding = LeaseKeys(mark.key).run(self.client, END_IF_IDLE)
            if outstanding != 0:
                raise self._busy(outstanding, mark.key)

    def _busy(self, outstanding: int, key: str) -> QueuedBroadcastBusy:
        """The refusal while the lease counted in ``key`` is held.

        ``outstanding`` is what the scripts' held check answered: the count,
        or -3 for a submitter's share.
        """
        held = (
            f"{outstanding} message(s) outstanding"
            if outstanding > 0
            else f"a submission was queuing its messages in the last {self._share_ms / 1000:g} s"
        )
        return QueuedBroadcastBusy(
            queued_advice(self.broadcast_id, self.queue) + f" ({held}, counted in Redis key {key})",
            field="resume",
        )

    def _refresh(self) -> None:
        """Keep the submitter's share alive until ``release`` (or the process dies)."""
        while not self._stop_refreshing.wait(self._share_ms / 5000):
            try:
                if not self.keys.run(self.client, REFRESH, self.token, self._share_ms):
                    self._lapse("its share was gone at a refresh")
                    return
                self._confirmed = _clock()
            except Exception as error:  # noqa: BLE001 - Redis away for a moment: try again
                logger.warning(
                    "broadcast %s: could not refresh its queue lease: %s", self.broadcast_id, error
                )

    def _lapse(self, why: str) -> None:
        if not self._lapsed.is_set():
            self._lapsed.set()
            # Only a note: while queuing, the submission stops with the error that
            # says it all; once queued, the share has no work left to cover.
            logger.info(
                "broadcast %s: its queue lease %s lapsed while it was still queuing (%s)",
                self.broadcast_id,
                self.key,
                why,
            )

    @property
    def lapsed(self) -> bool:
        """Whether the submitter's share may have lapsed: queue nothing more once it has.

        True once Redis said so (a refresh, ``reserve`` or ``count``), and also
        when no refresh has confirmed the share for as long as it lives: after
        a stall the process cannot know, and the refresher may not have run yet.
        """
        if not self._lapsed.is_set() and _clock() - self._confirmed >= self._share_ms / 1000:
            self._lapse("not confirmed for as long as it lives")
        return self._lapsed.is_set()

    def reserve(self, messages: int) -> int:
        """Numbers for ``messages`` about to be enqueued: the first (-1: the share lapsed)."""
        first = self.keys.run(self.client, RESERVE, self.token, messages, self._share_ms)
        if first < 0:
            self._lapse("gone from Redis when numbering a batch")
        else:
            self._confirmed = _clock()
        return first

    def count(self, first: int, messages: int) -> None:
        """Count ``messages`` numbered from ``first``, now on the queue."""
        if first >= 0 and messages > 0:
            if self.keys.run(self.client, COUNT, self.token, first, messages) < 0:
                self._lapse("the lease had ended when its last batch was counted")

    def lapsed_error(self, queued: int) -> QueueLeaseLapsed:
        """The error a submission stops with once ``lapsed``, ``queued`` messages in."""
        return QueueLeaseLapsed(
            f"broadcast {self.broadcast_id}: its queue lease (Redis key {self.key}) lapsed "
            f"while it was queuing: the submitter stalled, or could not reach Redis, for "
            f"{self._share_ms / 1000:g} s or more, so it stopped queuing after {queued} "
            f"message(s) on {self.queue}; the rows not queued stay pending. Once the workers "
            f"have drained the queued ones (`broadcastio journal show {self.broadcast_id}`), "
            "resume it with --queue",
            details={"broadcast_id": self.broadcast_id, "queued": queued, "lease_key": self.key},
            field="queue",
        )

    def payload_fields(self, number: int) -> dict[str, Any]:
        """What message ``number`` carries so a worker can take it off the count once."""
        if number < 0:
            return {}
        return {LEASE_KEY: self.key, LEASE_TOKEN: self.token, LEASE_SEQUENCE: number}

    def release(self) -> None:
        """Give up the submitter's share; the lease ends here if every message is done."""
        if not self._held:
            return
        self._held = False
        self._stop_refreshing.set()
        if self._refresher is not None and self._refresher is not threading.current_thread():
            self._refresher.join()
        try:
            if self.keys.run(self.client, RELEASE, self.token) == 0:
                self.journal.end_queued_lease(self.broadcast_id, token=self.token)
        except Exception as error:  # noqa: BLE001 - do not hide what ended the submission
            logger.warning(
                "broadcast %s: could not release its queue lease %s: %s",
                self.broadcast_id,
                self.key,
                error,
            )


def _clock() -> float:
    """Seconds on a clock that runs on while the machine sleeps (Linux), or monotonic."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


def _lease_of(payload: dict[str, Any]) -> tuple[LeaseKeys, str, int] | None:
    key = payload.get(LEASE_KEY)
    if not isinstance(key, str):
        return None
    token = payload.get(LEASE_TOKEN)
    number = payload.get(LEASE_SEQUENCE)
    return (
        LeaseKeys(key),
        token if isinstance(token, str) else "",
        number if isinstance(number, int) and not isinstance(number, bool) else -1,
    )


def message_done(client: Any, payload: dict[str, Any], journal: Journal) -> None:
    """A worker is done with a message (whatever happened): taken off the count, once.

    A message delivered again (its worker died before acknowledging it)
    counts nothing the second time. The one that ends the lease removes its
    mark from ``journal`` (the worker's journal: the message's, checked).
    A Redis error is tried again a few times (taking a numbered message off
    twice is harmless, see the module); if Redis stays away, the count stays
    above zero and the warning says how to end the lease by hand.
    """
    lease = _lease_of(payload)
    if lease is None:
        return
    keys, token, number = lease
    task = payload.get("task")
    broadcast_id = str(task.get("broadcast_id")) if isinstance(task, dict) else "?"
    # A message queued before numbers is taken off by a plain DECR: not retried,
    # as a reply lost after it ran would take it off twice.
    attempts = _DONE_ATTEMPTS if number >= 0 else 1
    backoff = _DONE_FIRST_BACKOFF
    for attempt in range(1, attempts + 1):
        try:
            answer = keys.run(client, DONE, token, number)
            break
        except Exception as error:  # noqa: BLE001 - the lease is a guard, not the delivery
            if attempt < attempts:
                time.sleep(backoff)
                backoff *= 2
                continue
            logger.warning(
                "broadcast %s: could not count a message done in its queue lease %s (%s); "
                "the lease stays held: once `broadcastio journal show %s` shows every row "
                "settled, delete the Redis key %s to end it (a resume with --queue then "
                "clears the journal's mark)",
                broadcast_id,
                keys.count,
                error,
                broadcast_id,
                keys.count,
            )
            return
    try:
        if answer == 0:
            journal.end_queued_lease(broadcast_id, token=token or None)
        elif answer == -2:
            logger.info("lease %s: message %d was taken off before", keys.count, number)
    except Exception as error:  # noqa: BLE001 - the lease is a guard, not the delivery
        logger.warning(
            "broadcast %s: the queue lease %s ended, but its mark could not be removed: %s",
            broadcast_id,
            keys.count,
            error,
        )


def message_copy(client: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload of a message's copy to put back on the queue (a rate limit).

    The same payload with the copy's own number: the same number each time the
    same original is deferred, so a copy queued twice counts once. Enqueue it,
    then ``message_queued`` it (nothing is counted before it is on the queue).
    """
    lease = _lease_of(payload)
    if lease is None:
        return dict(payload)
    keys, token, number = lease
    copy = keys.run(client, COPY, token, number)
    if copy < 0:
        # Not this lease's any more (it ended or was replaced): the copy counts nothing.
        return {
            name: value
            for name, value in payload.items()
            if name not in (LEASE_KEY, LEASE_TOKEN, LEASE_SEQUENCE)
        }
    return {**payload, LEASE_SEQUENCE: copy}


def message_queued(client: Any, payload: dict[str, Any]) -> None:
    """A worker put a message (a copy) on the queue: counted, unless already done."""
    lease = _lease_of(payload)
    if lease is None:
        return
    keys, token, number = lease
    if number >= 0:
        keys.run(client, COUNT, token, number, 1)

"""The lease a queued broadcast holds while its messages are on the queue.

A submitter holds the journal's claim on a broadcast id only while it runs;
``--detach`` (or a killed submitter) lets it go while the workers are still
delivering. A resume started then (local, or through the queue) would send
the same rows at the same time as the workers. The lease closes that gap. It
has two halves:

- In Redis, the count of the broadcast's outstanding messages
  (``broadcastio:lease:DIGEST``): the submitter adds what it enqueues, plus
  one for itself while it enqueues; a worker takes one off once a message is
  done (journaled, skipped, or raised); a message put back on the queue for a
  rate limit adds one first. The key's name travels in each message.
- In the journal, a mark that says "queued on QUEUE since T"
  (``broadcast.journal.queued``: a file beside an SQLite journal, a row of
  ``queued_leases`` in PostgreSQL), so a run that knows no Redis (a local
  resume, on the command line or through ``broadcast()``) refuses too.
  Whoever takes the count to zero removes the mark.

A submission through the queue checks the count: held, it is refused; a mark
without a count (Redis flushed, the messages lost) is stale and replaced.

Counting each message once. Dramatiq acknowledges a message after the actor
returns, and the count goes down just before that: a worker killed in
between leaves the message to be redelivered, and its second run would take
one more off the count, ending the lease while other messages are still
outstanding. So each message carries the lease's ``token`` (which
submission it belongs to) and a sequence number; taking a message off is one
Lua script that sets the message's bit in a bitmap (``KEY:done``) and
decrements only if the bit was clear, and only if the token is still the
lease's (a message of an earlier submission never counts against a newer
one). A deferred message's copy gets its number from the same script that
counts it, remembered per original (``KEY:copies``), so a redelivered original
deferred again does not count its copy twice. A bitmap costs one bit per
message: 62 kB for 500,000. Every key of the lease goes when the count
reaches zero.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from broadcastio.broadcast.journal.location import journal_display
from broadcastio.broadcast.journal.queued import (
    QueuedBroadcastBusy,
    QueuedLease,
    lease_file,
    queued_advice,
)
from broadcastio.distributed.queue import redact_url

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal

__all__ = [
    "QueueLease",
    "QueuedBroadcastBusy",
    "message_done",
    "message_requeued",
]

logger = logging.getLogger("broadcastio")

# What a message's payload carries: the count's key, the submission's token, the
# message's number. (Messages queued before tokens carry the key alone.)
LEASE_KEY = "lease"
LEASE_TOKEN = "lease_token"
LEASE_SEQUENCE = "lease_seq"

# KEYS: count, token, next number, done bitmap, copies. ARGV: token.
# Refused (the count, > 0) while held; else the lease is this submission's.
_ACQUIRE = """
local outstanding = tonumber(redis.call('GET', KEYS[1]) or '0')
if outstanding > 0 then return outstanding end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
redis.call('SET', KEYS[1], 1)
redis.call('SET', KEYS[2], ARGV[1])
return 0
"""
# KEYS: count, token, next number. ARGV: token, messages (> 0).
# Counts the messages; their first number (-1: the lease is not this token's).
_ADD = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
redis.call('INCRBY', KEYS[1], ARGV[2])
return redis.call('INCRBY', KEYS[3], ARGV[2]) - tonumber(ARGV[2])
"""
# KEYS: count, token. ARGV: token, messages never enqueued.
_FORGET = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
return redis.call('DECRBY', KEYS[1], ARGV[2])
"""
# KEYS: count, token, next number, done bitmap, copies. ARGV: token ('' for a
# message queued before tokens), number (-1: none, the submitter's own share).
# -1: not this lease's; -2: counted before; 0: the lease ended; else what is left.
_DONE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
if tonumber(ARGV[2]) >= 0 and redis.call('SETBIT', KEYS[4], ARGV[2], 1) == 1 then
  return -2
end
local left = redis.call('DECR', KEYS[1])
if left <= 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  return 0
end
return left
"""
# KEYS: count, token, next number, copies. ARGV: token, the original's number.
# The copy's number (counted once per original), or -1: not this lease's.
_REQUEUE = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then return -1 end
local original = tonumber(ARGV[2])
if original >= 0 then
  local copy = redis.call('HGET', KEYS[4], ARGV[2])
  if copy then return tonumber(copy) end
end
redis.call('INCR', KEYS[1])
local copy = redis.call('INCR', KEYS[3]) - 1
if original >= 0 then redis.call('HSET', KEYS[4], ARGV[2], copy) end
return copy
"""


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


class _Keys:
    """The Redis keys of one lease, named after its count's key."""

    def __init__(self, count: str) -> None:
        self.count = count
        self.token = f"{count}:token"
        self.next = f"{count}:next"
        self.done = f"{count}:done"
        self.copies = f"{count}:copies"


def _script(client: Any, source: str, keys: list[str], args: list[Any]) -> int:
    return int(client.register_script(source)(keys=keys, args=args))


class QueueLease:
    """The submitter's side of one broadcast's lease (see the module's docstring)."""

    def __init__(self, client: Any, journal: Journal, broadcast_id: str, queue_url: str) -> None:
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
        self.keys = _Keys(f"broadcastio:lease:{_digest(named)}")
        self.key = self.keys.count
        self.token = uuid.uuid4().hex
        self._held = False

    def acquire(self) -> None:
        """Refuse while another submission's messages are outstanding; else hold the lease.

        A mark in the journal whose count is gone (Redis flushed) is stale:
        replaced by this submission's.
        """
        keys = self.keys
        outstanding = _script(
            self.client,
            _ACQUIRE,
            [keys.count, keys.token, keys.next, keys.done, keys.copies],
            [self.token],
        )
        if outstanding > 0:
            raise QueuedBroadcastBusy(
                queued_advice(self.broadcast_id, self.queue)
                + f" ({outstanding} message(s) outstanding, counted in Redis key {self.key})",
                field="resume",
            )
        # The submitter's own share is held from here: the lease cannot end while
        # it is still enqueuing.
        self._held = True
        try:
            stale = self.journal.queued_lease(self.broadcast_id)
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
                )
            )
        except BaseException:
            self.release()
            raise

    def add(self, messages: int) -> int:
        """Count ``messages`` about to be enqueued; the number of the first of them.

        -1 (and a warning) when the lease is gone from Redis: its messages went
        with it, and the ones enqueued now are not counted.
        """
        keys = self.keys
        first = _script(
            self.client, _ADD, [keys.count, keys.token, keys.next], [self.token, messages]
        )
        if first < 0:
            logger.warning(
                "broadcast %s: its queue lease %s vanished from Redis while enqueuing",
                self.broadcast_id,
                keys.count,
            )
        return first

    def forget(self, messages: int) -> None:
        """Take back ``messages`` counted by ``add`` that were never enqueued."""
        if messages > 0:
            keys = self.keys
            _script(self.client, _FORGET, [keys.count, keys.token], [self.token, messages])

    def payload_fields(self, sequence: int) -> dict[str, Any]:
        """What message number ``sequence`` carries so a worker can count it done once."""
        if sequence < 0:
            return {}
        return {LEASE_KEY: self.key, LEASE_TOKEN: self.token, LEASE_SEQUENCE: sequence}

    def release(self) -> None:
        """Give up the submitter's share; the lease ends here if every message is done."""
        if not self._held:
            return
        self._held = False
        try:
            left = _script(
                self.client,
                _DONE,
                [
                    self.keys.count,
                    self.keys.token,
                    self.keys.next,
                    self.keys.done,
                    self.keys.copies,
                ],
                [self.token, -1],
            )
            if left == 0:
                self.journal.end_queued_lease(self.broadcast_id, token=self.token)
        except Exception as error:  # noqa: BLE001 - do not hide what ended the submission
            logger.warning(
                "broadcast %s: could not release its queue lease %s: %s",
                self.broadcast_id,
                self.key,
                error,
            )


def _lease_of(payload: dict[str, Any]) -> tuple[_Keys, str, int] | None:
    key = payload.get(LEASE_KEY)
    if not isinstance(key, str):
        return None
    token = payload.get(LEASE_TOKEN)
    sequence = payload.get(LEASE_SEQUENCE)
    return (
        _Keys(key),
        token if isinstance(token, str) else "",
        sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else -1,
    )


def message_done(client: Any, payload: dict[str, Any], journal: Journal) -> None:
    """A worker is done with a message (whatever happened): one fewer outstanding, once.

    A message delivered again (its worker died before acknowledging it)
    counts nothing the second time. The one that ends the lease removes its
    mark from ``journal`` (the worker's journal: the message's, checked).
    """
    lease = _lease_of(payload)
    if lease is None:
        return
    keys, token, sequence = lease
    try:
        left = _script(
            client,
            _DONE,
            [keys.count, keys.token, keys.next, keys.done, keys.copies],
            [token, sequence],
        )
        if left == 0:
            broadcast_id = str(payload["task"]["broadcast_id"])
            journal.end_queued_lease(broadcast_id, token=token or None)
        elif left == -2:
            logger.info("lease %s: message %d was counted done before", keys.count, sequence)
    except Exception as error:  # noqa: BLE001 - the lease is a guard, not the delivery
        logger.warning("could not count a message done in lease %s: %s", keys.count, error)


def message_requeued(client: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """A message goes back on the queue (a rate limit): its copy counted, first.

    Returns the copy's payload: the same, with the copy's own number (the same
    number each time the same original is deferred, so it is counted once).
    """
    lease = _lease_of(payload)
    if lease is None:
        return dict(payload)
    keys, token, sequence = lease
    copy = _script(
        client, _REQUEUE, [keys.count, keys.token, keys.next, keys.copies], [token, sequence]
    )
    if copy < 0:
        # Not this lease's any more (it ended or was replaced): the copy counts nothing.
        return {
            name: value
            for name, value in payload.items()
            if name not in (LEASE_KEY, LEASE_TOKEN, LEASE_SEQUENCE)
        }
    return {**payload, LEASE_SEQUENCE: copy}

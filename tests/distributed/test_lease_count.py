"""The lease's count in a real Redis: every message counted done once, whatever Dramatiq repeats.

Dramatiq delivers a message again when its worker died before acknowledging
it, possibly after the worker already counted it done; a deferred message's
original may be delivered again and deferred again. Through the lease's own
functions (what the submitter and the workers call), against a real Redis
and a real journal: the lease ends exactly when the submitter has let go and
every message it counted is done (counted after it is enqueued: one a worker
finished first is never counted), a copy numbered but never counted never
holds it, and a message of an earlier submission never counts against a
newer one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio.broadcast import Journal
from broadcastio.distributed.lease import (
    QueueLease,
    message_copy,
    message_done,
    message_queued,
)

_ids = itertools.count(1)


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.sqlite") as opened:
        yield opened


def submit(
    client: Any, journal: Journal, redis_url: str, messages: int, *, count: bool = True
) -> tuple[QueueLease, list[dict[str, Any]]]:
    """What the submitter does: hold the lease, number ``messages``, one payload each, and
    (``count``) count them as enqueued."""
    broadcast_id = f"count-{next(_ids)}"
    lease = QueueLease(client, journal, broadcast_id, redis_url)
    lease.acquire()
    first = lease.reserve(messages)
    assert first >= 0
    payloads = [
        {"task": {"broadcast_id": broadcast_id}, **lease.payload_fields(first + number)}
        for number in range(messages)
    ]
    if count:
        lease.count(first, messages)
    return lease, payloads


def held(client: Any, journal: Journal, lease: QueueLease) -> bool:
    """Whether the lease is held, asserting its two halves agree."""
    in_redis = bool(client.exists(lease.key))
    in_journal = journal.queued_lease(lease.broadcast_id) is not None
    assert in_redis == in_journal, (in_redis, in_journal)
    return in_redis


COUNT, RELEASE = "count", "release"


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, list[int | str]]:
    """A number of messages and the order things happen in: each message done once or
    more (an int: its index; a worker may finish a message before the submitter has
    counted it), the submitter counting the batch once, then letting go once."""
    messages = draw(st.integers(min_value=1, max_value=5))
    again = draw(st.lists(st.integers(min_value=0, max_value=messages - 1), max_size=6))
    events: list[int | str] = draw(st.permutations([*range(messages), *again, COUNT]))
    after_count = events.index(COUNT) + 1
    events.insert(draw(st.integers(min_value=after_count, max_value=len(events))), RELEASE)
    return messages, events


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=deliveries())
def test_the_lease_ends_when_every_counted_message_is_done_and_not_before(
    client: Any, journal: Journal, redis_url: str, case: tuple[int, list[int | str]]
) -> None:
    messages, events = case
    lease, payloads = submit(client, journal, redis_url, messages, count=False)
    first = payloads[0]["lease_seq"]
    done: set[int] = set()
    counted: set[int] = set()
    released = False
    for event in events:
        # Duplicates may come after the end too: a late redelivery counts nothing.
        if event == COUNT:
            lease.count(first, messages)
            counted = set(range(messages)) - done  # one already done is never counted
        elif event == RELEASE:
            lease.release()
            released = True
        else:
            assert isinstance(event, int)
            message_done(client, payloads[event], journal)
            done.add(event)
        assert held(client, journal, lease) == (not released or bool(counted - done))
    assert not held(client, journal, lease)
    # Nothing of the lease is left in Redis once it ended.
    assert not client.keys(f"{lease.key}*")


def test_a_deferred_message_delivered_again_queues_its_copy_once(
    client: Any, journal: Journal, redis_url: str
) -> None:
    lease, (original,) = submit(client, journal, redis_url, 1)
    lease.release()
    # The worker defers the message (a rate limit): the copy is enqueued and counted,
    # and the worker is killed before acknowledging. The redelivered original runs
    # into the same pause and is deferred again: the same copy, counted once.
    copy = message_copy(client, original)
    message_queued(client, copy)
    copy_again = message_copy(client, original)
    message_queued(client, copy_again)
    message_done(client, original, journal)
    assert copy == copy_again and copy != original
    assert held(client, journal, lease)  # the copy is outstanding
    message_done(client, copy, journal)
    assert not held(client, journal, lease)
    message_done(client, copy_again, journal)  # the second copy on the queue: nothing left
    assert not held(client, journal, lease)


@pytest.mark.parametrize("copy_enqueued", [True, False])
def test_a_copy_never_counted_never_holds_the_lease(
    client: Any, journal: Journal, redis_url: str, copy_enqueued: bool
) -> None:
    """A worker killed after numbering a copy, before counting it (enqueued or not).

    The original is delivered again and sends this time (the pause is over):
    the lease ends with it, instead of waiting for ever for a copy it counted.
    """
    lease, (original,) = submit(client, journal, redis_url, 1)
    lease.release()
    copy = message_copy(client, original)
    if copy_enqueued:
        message_done(client, copy, journal)  # the copy ran: its row was settled, or it sent
        assert held(client, journal, lease)  # the original is still outstanding
    message_done(client, original, journal)
    assert not held(client, journal, lease)


def test_a_message_of_an_earlier_submission_does_not_count_against_a_newer_one(
    client: Any, journal: Journal, redis_url: str
) -> None:
    first, (old,) = submit(client, journal, redis_url, 1)
    first.release()
    message_done(client, old, journal)
    assert not held(client, journal, first)
    # A resume through the queue: a new lease of the same broadcast.
    second = QueueLease(client, journal, first.broadcast_id, redis_url)
    second.acquire()
    start = second.reserve(1)
    new = {"task": {"broadcast_id": first.broadcast_id}, **second.payload_fields(start)}
    second.count(start, 1)
    second.release()
    message_done(client, old, journal)  # the old message, delivered again late
    assert held(client, journal, second)
    mark = journal.queued_lease(first.broadcast_id)
    assert mark is not None and mark.token == second.token
    message_done(client, new, journal)
    assert not held(client, journal, second)


def test_the_end_of_a_lease_leaves_a_newer_submissions_mark_in_place(
    client: Any, journal: Journal, redis_url: str
) -> None:
    """The mark is removed by its own submission's token only."""
    lease, _ = submit(client, journal, redis_url, 1)
    journal.end_queued_lease(lease.broadcast_id, token="another submission")
    assert journal.queued_lease(lease.broadcast_id) is not None
    journal.end_queued_lease(lease.broadcast_id, token=lease.token)
    assert journal.queued_lease(lease.broadcast_id) is None


class FlakyRedis:
    """The real client, except that its next ``failures`` script calls raise as in a blip."""

    def __init__(self, client: Any, failures: int) -> None:
        self.client = client
        self.failures = failures

    def register_script(self, source: str) -> Any:
        script = self.client.register_script(source)

        def run(**arguments: Any) -> Any:
            if self.failures > 0:
                import redis

                self.failures -= 1
                raise redis.exceptions.ConnectionError("Connection reset by peer (a blip)")
            return script(**arguments)

        return run


def test_a_message_done_during_a_redis_blip_still_ends_the_lease(
    client: Any, journal: Journal, redis_url: str
) -> None:
    lease, (payload,) = submit(client, journal, redis_url, 1)
    lease.release()
    message_done(FlakyRedis(client, failures=2), payload, journal)
    assert not held(client, journal, lease)


def test_a_message_done_redis_never_took_says_how_to_end_the_lease_by_hand(
    client: Any, journal: Journal, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    lease, (payload,) = submit(client, journal, redis_url, 1)
    lease.release()
    with caplog.at_level("WARNING", logger="broadcastio"):
        message_done(FlakyRedis(client, failures=1000), payload, journal)
    assert held(client, journal, lease)
    (warning,) = [record.getMessage() for record in caplog.records]
    assert f"delete the Redis key {lease.key}" in warning
    assert f"broadcastio journal show {lease.broadcast_id}" in warning
    # The recovery it describes: the key deleted, a resume through the queue clears the mark.
    client.delete(lease.key)
    again = QueueLease(client, journal, lease.broadcast_id, redis_url)
    again.acquire()
    again.release()
    assert not held(client, journal, again)

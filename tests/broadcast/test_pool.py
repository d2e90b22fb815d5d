"""``WorkerPool``'s measure of recent sends, which decides where a run sends next.

A run sends on its own thread while ``recent_send_seconds`` is under
``FAST_SEND_SECONDS``; the worker threads keep it up to date for the sends
they make. These tests drive one pool directly, with one thread, so the order
of the sends (and so of the measurements) is fixed.
"""

from __future__ import annotations

import time

from broadcast_support import RecordingProvider, make_messages

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import RecipientTask, reference_id_for
from broadcastio.broadcast.admission import with_reference_id
from broadcastio.broadcast.pool import FAST_SEND_SECONDS, WorkerPool

SLOW_SECONDS = 0.01


def tasks(count: int) -> list[RecipientTask]:
    return [
        RecipientTask("b", 1, number, with_reference_id(m, reference_id_for("b", m.recipient)))
        for number, m in enumerate(make_messages(count))
    ]


def run_to_the_end(pool: WorkerPool, count: int) -> None:
    for task in tasks(count):
        pool.submit(task)
    pool.close()
    while pool.running:
        pool.next_event(1.0)
    assert len(pool.take_sent(None)) == count


def test_a_lone_slow_send_does_not_make_the_pool_slow() -> None:
    # Every fourth send pauses (a garbage collection, the machine busy), the
    # last one among them. Folding each send in as it came kept the average
    # above 0.25 * SLOW_SECONDS after such a send, so a run whose provider
    # answers in microseconds could stay on its threads, one pause after another.
    def on_send(message: Message, number: int) -> None:
        if number % 4 == 0:
            time.sleep(SLOW_SECONDS)

    pool = WorkerPool(Orchestrator([RecordingProvider(on_send=on_send)]), 1)
    run_to_the_end(pool, 32)
    assert pool.recent_send_seconds < SLOW_SECONDS / 10


def test_a_provider_slow_at_every_send_makes_the_pool_slow() -> None:
    def on_send(message: Message, number: int) -> None:
        time.sleep(SLOW_SECONDS / 10)

    pool = WorkerPool(Orchestrator([RecordingProvider(on_send=on_send)]), 1)
    run_to_the_end(pool, 8)
    assert pool.recent_send_seconds > FAST_SEND_SECONDS

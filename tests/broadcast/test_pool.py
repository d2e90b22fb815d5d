"""``WorkerPool``'s measure of recent sends, which decides where a run sends next.

A run sends on its own thread while ``recent_send_seconds`` (the mean of the
latest sends, the slowest left out) is under ``FAST_SEND_SECONDS``; the worker
threads note each send they make. These tests drive one pool directly and
queue each task once the one before is back, so the order of the sends (and
so of the measurements) is fixed.
"""

from __future__ import annotations

import time

import pytest
from broadcast_support import RecordingProvider, make_messages

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import RecipientTask, reference_id_for
from broadcastio.broadcast.admission import with_reference_id
from broadcastio.broadcast.pool import FAST_SEND_SECONDS, MEASURED_SENDS, WorkerPool

SLOW_SECONDS = 0.01


def tasks(count: int) -> list[RecipientTask]:
    return [
        RecipientTask("b", 1, number, with_reference_id(m, reference_id_for("b", m.recipient)))
        for number, m in enumerate(make_messages(count))
    ]


def send_one_at_a_time(pool: WorkerPool, count: int) -> None:
    """Each task queued once the one before is back: the sends' order is fixed."""
    for task in tasks(count):
        pool.submit(task)
        while not pool.take_sent(None):
            pool.next_event(1.0)
    pool.close()
    while pool.running:
        pool.next_event(1.0)


def test_a_lone_slow_send_does_not_make_the_pool_slow() -> None:
    # One send in MEASURED_SENDS pauses (a garbage collection, the machine
    # busy), the last one among them. Folding each send into a moving average
    # kept it above 0.25 * SLOW_SECONDS after such a send, so a run whose
    # provider answers in microseconds could stay on its threads, one pause
    # after another.
    def on_send(message: Message, number: int) -> None:
        if number % MEASURED_SENDS == 0:
            time.sleep(SLOW_SECONDS)

    pool = WorkerPool(Orchestrator([RecordingProvider(on_send=on_send)]), 4)
    send_one_at_a_time(pool, 32)
    assert pool.recent_send_seconds < SLOW_SECONDS / 10


@pytest.mark.parametrize("every", [2, 5])
def test_a_provider_often_slow_keeps_the_pool_slow(every: int) -> None:
    # One send in two, or in five, waits: that is the provider, and the threads
    # overlap such waits. A measure that only looked at the lesser of each
    # thread's two latest sends hid them, and a concurrency-4 run then made
    # its sends one at a time on its own thread.
    def on_send(message: Message, number: int) -> None:
        if number % every == 0:
            time.sleep(SLOW_SECONDS)

    pool = WorkerPool(Orchestrator([RecordingProvider(on_send=on_send)]), 4)
    send_one_at_a_time(pool, 4 * MEASURED_SENDS)
    assert pool.recent_send_seconds > 10 * FAST_SEND_SECONDS


def test_a_provider_slow_at_every_send_makes_the_pool_slow() -> None:
    def on_send(message: Message, number: int) -> None:
        time.sleep(SLOW_SECONDS / 10)

    pool = WorkerPool(Orchestrator([RecordingProvider(on_send=on_send)]), 4)
    send_one_at_a_time(pool, 8)
    assert pool.recent_send_seconds > FAST_SEND_SECONDS


def test_a_send_slow_enough_to_hand_work_back_is_the_whole_measure() -> None:
    pool = WorkerPool(Orchestrator([RecordingProvider()]), 4)
    pool.note_send_seconds(1e-6, 1e-6, 1e-6, 1e-6)
    assert pool.recent_send_seconds < FAST_SEND_SECONDS
    pool.restart_measure(0.03)
    assert pool.recent_send_seconds == 0.03

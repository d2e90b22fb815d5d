"""Broadcasts past one process: Dramatiq workers fed through a Redis queue.

``submit_broadcast`` records a broadcast in the journal and enqueues one
message per recipient; ``run_workers`` runs the Dramatiq workers that deliver
them (``broadcastio broadcast --queue`` and ``broadcastio worker``). Provider
rate limits hold across the whole fleet (``fleet_rate``). Dramatiq and the
Redis client are the ``dramatiq`` extra, imported only when a queue is used:
importing this package does not import them. See ``docs/scaling.md``.
"""

from __future__ import annotations

from broadcastio.distributed.lease import QueuedBroadcastBusy, QueueLeaseLapsed
from broadcastio.distributed.queue import QueueError, check_queue_url, redact_url
from broadcastio.distributed.submit import Progress, SubmittedBroadcast, submit_broadcast
from broadcastio.distributed.worker import (
    WorkerOptions,
    WorkerStartError,
    WrongJournal,
    run_workers,
    start_worker,
)

__all__ = [
    "Progress",
    "QueueError",
    "QueueLeaseLapsed",
    "QueuedBroadcastBusy",
    "SubmittedBroadcast",
    "WorkerOptions",
    "WorkerStartError",
    "WrongJournal",
    "check_queue_url",
    "redact_url",
    "run_workers",
    "start_worker",
    "submit_broadcast",
]

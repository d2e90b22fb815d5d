"""Broadcasts: one message per recipient for many recipients, concurrent, journaled, resumable.

``broadcast`` / ``iter_broadcast`` (also available as ``Orchestrator`` methods)
send, as a ``BroadcastOptions`` record (or its fields as keywords) says;
``Journal`` records every recipient's state in SQLite and answers questions
about past broadcasts; ``deliver_recipient`` is the unit of work a task-queue
worker can run on its own. See ``docs/broadcasts.md``.
"""

from __future__ import annotations

from broadcastio.broadcast.journal import (
    JOURNAL_COLUMNS,
    BroadcastInfo,
    Journal,
    JournalError,
    JournalProblem,
    JournalRow,
)
from broadcastio.broadcast.options import BroadcastOptions
from broadcastio.broadcast.pause import BroadcastPause
from broadcastio.broadcast.report import BroadcastReport
from broadcastio.broadcast.run import BroadcastRun
from broadcastio.broadcast.runner import broadcast, iter_broadcast, new_broadcast_id
from broadcastio.broadcast.states import RecipientState, RecipientStatus
from broadcastio.broadcast.task import (
    RecipientOutcome,
    RecipientTask,
    deliver_recipient,
    reference_id_for,
    send_recipient,
)

__all__ = [
    "BroadcastInfo",
    "BroadcastOptions",
    "BroadcastPause",
    "BroadcastReport",
    "BroadcastRun",
    "JOURNAL_COLUMNS",
    "Journal",
    "JournalError",
    "JournalProblem",
    "JournalRow",
    "RecipientOutcome",
    "RecipientState",
    "RecipientStatus",
    "RecipientTask",
    "broadcast",
    "deliver_recipient",
    "iter_broadcast",
    "new_broadcast_id",
    "reference_id_for",
    "send_recipient",
]

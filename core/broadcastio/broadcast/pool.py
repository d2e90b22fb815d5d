"""The threads that send: N workers pulling ``RecipientTask``s and posting outcomes back.

Plain threads and two ``queue.SimpleQueue``s rather than a
``ThreadPoolExecutor``: the runner bounds how many tasks are queued itself, so
the pool needs no bounded queue, and skipping a ``Future`` per recipient is
measurably cheaper (see ``bench/bench_broadcast.py``). Everything a worker
produces, including its own end and any exception that escapes a task, comes
back through one results queue, so the thread consuming the broadcast is the
only one that makes decisions, and the only one that writes to the journal:
a worker only sends.

A sent outcome is not handed over through that queue, where it would be in
nobody's hands between the consuming thread taking it and recording it (a
Ctrl-C lands on the consuming thread at any bytecode): it is appended to
``sent``, and the queue only carries a wake-up. It leaves ``sent`` only once
``take_sent``'s ``commit`` has returned, so however the consuming thread is
interrupted, an outcome it has not committed is still there for the run's
wind-down to commit.

While sends are fast, a worker is handed a chunk of tasks at once and posts
one wake-up for them (``submit_all``): with a provider that answers in a few
microseconds, the two thread switches per task cost more than the send. A
slow send makes the worker give the rest of its chunk back (``Returned``), and
later tasks go one per thread again, so ``size`` stays the number of sends a
slow provider gets under way at once.
"""

from __future__ import annotations

import collections
import contextvars
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import attrs

from broadcastio.broadcast.task import RecipientOutcome, RecipientTask, send_recipient

if TYPE_CHECKING:
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = [
    "NotSent",
    "PoolEvent",
    "Posted",
    "Returned",
    "WorkerCrashed",
    "WorkerFinished",
    "WorkerPool",
]


@attrs.frozen
class NotSent:
    """A task a worker took from the queue after the pool was cancelled; nothing was sent."""

    task: RecipientTask


@attrs.frozen
class WorkerCrashed:
    """An exception escaped ``send_recipient`` (a bug, or the journal failing)."""

    error: BaseException


@attrs.frozen
class Returned:
    """Tasks of a chunk a worker gives back unsent, because one of its sends was slow.

    The consuming thread queues them again one per hand-off (or, once the
    pool is cancelled, treats them as ``NotSent``): only it knows whether the
    pool is still taking tasks.
    """

    tasks: tuple[RecipientTask, ...]


@attrs.frozen
class WorkerFinished:
    """A worker thread has ended; it will post nothing more."""


@attrs.frozen
class Posted:
    """A worker appended an outcome to ``WorkerPool.sent``: a wake-up, nothing more."""


_FINISHED = WorkerFinished()
_POSTED = Posted()
_STOP = object()  # put once per worker: "no more tasks"

# Adaptive dispatch (``WorkerPool.submit_all``): while the recent sends took
# less than this on average, a worker is handed several tasks at once; a
# thread hand-off costs a few microseconds, several times a fast send.
FAST_SEND_SECONDS = 100e-6
# The most tasks one hand-off carries (16 measured best at concurrency 16 of 4,
# 8, 16, 32). A worker gives the rest of its chunk back as soon as one of its
# sends is slow, so a provider that slows down is not left on one thread.
CHUNK_SIZE = 16
# A send at least this slow gives the rest of its chunk back. Longer than a
# fast send can look: a send's wall-clock time includes waiting for the
# interpreter lock, which another thread may hold for a switch interval (5 ms).
GIVE_BACK_SECONDS = 0.02
# Weight of the newest send in the moving average of send durations.
_AVERAGE_WEIGHT = 0.25

PoolEvent = Posted | NotSent | Returned | WorkerCrashed | WorkerFinished


class WorkerPool:
    """``size`` daemon threads running ``send_recipient`` on submitted (claimed) tasks.

    Daemon threads, so a process that is exiting anyway (a second Ctrl-C) is not
    held up by a slow provider; the runner always waits for them otherwise. Each
    thread runs in its own copy of ``context`` (threads do not inherit the
    context of the thread that starts them), so context variables the run set
    up, such as the current OpenTelemetry span, reach every send.

    Outcomes come back uncommitted: with a journal, the consuming thread
    commits them (``GroupCommit``) before anyone sees them.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        size: int,
        *,
        context: contextvars.Context | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._tasks: queue.SimpleQueue[RecipientTask | list[RecipientTask] | object] = (
            queue.SimpleQueue()
        )
        self._results: queue.SimpleQueue[PoolEvent] = queue.SimpleQueue()
        # Outcomes of sends, oldest first: workers append, only take_sent removes.
        self._sent: collections.deque[RecipientOutcome] = collections.deque()
        self._cancelled = threading.Event()
        self._closed = False
        # Moving average of recent send durations, in seconds, written by the
        # workers without a lock (a float assignment; a lost update only delays
        # the average by one send). It starts slow: one task per hand-off until
        # sends have been seen to be fast.
        self.recent_send_seconds = float("inf")
        self.running = size
        base = contextvars.copy_context() if context is None else context
        self._threads = [
            threading.Thread(
                target=base.copy().run,
                args=(self._work,),
                name=f"broadcastio-send-{number}",
                daemon=True,
            )
            for number in range(1, size + 1)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, task: RecipientTask) -> None:
        """Queue ``task`` for the next free worker."""
        self._tasks.put(task)

    def submit_all(self, tasks: Sequence[RecipientTask]) -> None:
        """Queue ``tasks``: one per hand-off while sends are slow, ``CHUNK_SIZE`` while fast.

        ``concurrency`` bounds the sends in flight; it is not a promise to
        use that many threads. While recent sends average under
        ``FAST_SEND_SECONDS``, handing each to a sleeping thread (and waking
        the consuming thread for each outcome) costs more than the send, so a
        worker gets up to ``CHUNK_SIZE`` tasks at once and posts one wake-up
        for them. As soon as a send is slow the worker gives the rest of its
        chunk back (``Returned``; the consuming thread queues them one per
        hand-off, ``resubmit``), and the average that rises
        with it puts later tasks back to one per hand-off, so a slow provider
        gets every thread. Rate limits and pauses are waited out inside the
        send (the orchestrator), so chunking does not change them.
        """
        put = self._tasks.put
        if self.recent_send_seconds >= FAST_SEND_SECONDS:
            for task in tasks:
                put(task)
            return
        for start in range(0, len(tasks), CHUNK_SIZE):
            put(list(tasks[start : start + CHUNK_SIZE]))

    def resubmit(self, returned: Returned) -> bool:
        """Queue the tasks of ``returned`` one per hand-off; ``False`` once cancelled or closed.

        Only the consuming thread calls this, and it closes the pool only once
        no task is in flight, so a task given back is never queued behind the
        workers' stop markers.
        """
        if self._cancelled.is_set() or self._closed:
            return False
        put = self._tasks.put
        for task in returned.tasks:
            put(task)
        return True

    def cancel(self) -> None:
        """Let running sends finish, but send nothing that is still queued."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` was called: tasks given back are then not sent."""
        return self._cancelled.is_set()

    def close(self) -> None:
        """No more tasks: each worker ends once the queue ahead of it is done."""
        if not self._closed:
            self._closed = True
            for _ in self._threads:
                self._tasks.put(_STOP)

    def next_event(self, timeout: float) -> PoolEvent | None:
        """The next thing a worker posted, or ``None`` after ``timeout`` seconds of nothing."""
        try:
            event = self._results.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is _FINISHED:
            self.running -= 1
        return event

    def ready_event(self) -> PoolEvent | None:
        """Something a worker already posted, without waiting."""
        results = self._results
        if results.empty():
            return None
        event = results.get_nowait()  # only this thread takes from the queue
        if event is _FINISHED:
            self.running -= 1
        return event

    def take_sent(
        self, commit: Callable[[list[RecipientOutcome]], object] | None
    ) -> list[RecipientOutcome]:
        """The outcomes posted so far, oldest first, removed only after ``commit`` took them.

        ``commit`` (journal the outcomes) is called with the whole list
        first; if it raises, nothing is removed. Only the consuming thread
        calls this; workers only append, so what is removed is exactly what
        was committed.
        """
        sent = self._sent
        if not sent:
            return []
        taken = list(sent)  # one C call: no worker appends in the middle of it
        if commit is not None:
            commit(taken)
        popleft = sent.popleft
        for _ in range(len(taken)):
            popleft()
        return taken

    def _work(self) -> None:
        tasks, results = self._tasks, self._results
        try:
            while True:
                item = tasks.get()
                if item is _STOP:
                    return
                if type(item) is list:
                    self._run_chunk(item)
                else:
                    assert isinstance(item, RecipientTask)
                    self._run_chunk((item,))
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread
            results.put(WorkerCrashed(error))
        finally:
            results.put(_FINISHED)

    def _run_chunk(self, chunk: Sequence[RecipientTask]) -> None:
        """Send ``chunk`` in order; one wake-up for the outcomes, every task accounted for.

        Cancellation is looked at before each send (the rest come back as
        ``NotSent``). After a send slower than ``GIVE_BACK_SECONDS`` the rest
        go back to the consuming thread (``Returned``), which queues them one
        per hand-off for the idle workers. An exception from a send is raised
        after the unsent rest are posted as ``NotSent``, so the consuming
        thread releases their claims.
        """
        results, sent, cancelled = self._results, self._sent, self._cancelled
        orchestrator, clock = self._orchestrator, time.perf_counter
        position, count = 0, len(chunk)
        try:
            while position < count:
                task = chunk[position]
                if cancelled.is_set():
                    break
                position += 1
                started = clock()
                sent.append(send_recipient(orchestrator, task, None))
                elapsed = clock() - started
                average = self.recent_send_seconds
                if average == float("inf"):
                    self.recent_send_seconds = elapsed
                else:
                    self.recent_send_seconds = average + (elapsed - average) * _AVERAGE_WEIGHT
                if elapsed >= GIVE_BACK_SECONDS and position < count:
                    results.put(Returned(tuple(chunk[position:])))
                    position = count
        finally:
            for rest in chunk[position:]:
                results.put(NotSent(rest))
            if position:
                results.put(_POSTED)

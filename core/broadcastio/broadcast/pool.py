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

The pool is for sends that wait: while a run's recent sends are fast, the
consuming thread sends them itself (``BroadcastRun``), because handing a task
to a sleeping thread and its outcome back costs more than such a send. The
workers note the time of every send they make (``recent_send_seconds`` is
the mean of the latest sends, the slowest eighth left out), so the run knows
when sends have turned fast again.
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
    "FAST_SEND_SECONDS",
    "GIVE_BACK_SECONDS",
    "MEASURED_SENDS",
    "NotSent",
    "PoolEvent",
    "Posted",
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
class WorkerFinished:
    """A worker thread has ended; it will post nothing more."""


@attrs.frozen
class Posted:
    """A worker appended an outcome to ``WorkerPool.sent``: a wake-up, nothing more."""


_FINISHED = WorkerFinished()
_POSTED = Posted()
_STOP = object()  # put once per worker: "no more tasks"

# While the recent sends took less than this on average, the run sends on the
# thread that consumes it instead of handing each send to a worker: a hand-off
# there and back (two thread switches) costs 10-20 µs on the reference
# machine, several times a send that does not wait.
FAST_SEND_SECONDS = 50e-6
# A send at least this slow, made on the consuming thread, hands the rest of
# its batch to the workers. Far above FAST_SEND_SECONDS: a send's wall-clock
# time can include a garbage collection or the machine being busy.
GIVE_BACK_SECONDS = 0.02
# The fewest latest sends ``recent_send_seconds`` is the mean of, leaving out
# the slowest eighth of them: two pauses in 16 say nothing about the provider,
# but a provider slow at one send in five is, and gains from the threads.
MEASURED_SENDS = 16
_LEFT_OUT_PER_SEND = 8

PoolEvent = Posted | NotSent | WorkerCrashed | WorkerFinished


class WorkerPool:
    """``size`` daemon threads running ``send_recipient`` on submitted (claimed) tasks.

    The threads are started when the first task is queued. Daemon threads, so a
    process that is exiting anyway (a second Ctrl-C) is not held up by a slow
    provider; the runner always waits for them otherwise. Each thread runs in
    its own copy of ``context`` as it was when the pool was made (threads do
    not inherit the context of the thread that starts them), so context
    variables the run set up, such as the current OpenTelemetry span, reach
    every send.

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
        self._tasks: queue.SimpleQueue[RecipientTask | object] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[PoolEvent] = queue.SimpleQueue()
        # Outcomes of sends, oldest first: workers append, only take_sent removes.
        self._sent: collections.deque[RecipientOutcome] = collections.deque()
        self._cancelled = threading.Event()
        self._closed = False
        # The durations of the latest sends (``size`` of them, at least
        # MEASURED_SENDS), in seconds, wherever they were made: workers and the
        # consuming thread append (one C call each, so no lock). Empty, the
        # measure is infinitely slow, so a run's first sends go to the
        # threads: a provider that keeps a connection per thread (email) then
        # never holds more than ``size``, and the first sends share transient
        # failures as they always did.
        self._recent: collections.deque[float] = collections.deque(
            maxlen=max(size, MEASURED_SENDS)
        )
        # Started the first time a task is queued (``start``).
        self._size = size
        self.running = 0
        # The context each thread runs a copy of, as it was when the pool was made.
        self._context = (contextvars.copy_context() if context is None else context).copy()
        self._threads: list[threading.Thread] = []

    @property
    def recent_send_seconds(self) -> float:
        """The mean duration of the latest sends, the slowest eighth left out (``inf``: none yet).

        The latest ``size`` sends, or ``MEASURED_SENDS`` if that is more; of
        16, the slowest 2 are left out (at least the slowest one). A few slow
        sends among them (a garbage collection, the machine busy) say nothing
        about the provider; a provider whose sends are often slow (one in
        five), or that slows down, lifts the mean. The consuming thread reads
        it once per batch.
        """
        recent = sorted(self._recent)  # one C call: workers may append meanwhile
        if not recent:
            return float("inf")
        if len(recent) == 1:
            return recent[0]
        kept = recent[: len(recent) - max(1, len(recent) // _LEFT_OUT_PER_SEND)]
        return sum(kept) / len(kept)

    def note_send_seconds(self, *durations: float) -> None:
        """Note the durations of sends just made, oldest first (no lock: see ``__init__``)."""
        self._recent.extend(durations)

    def restart_measure(self, elapsed: float) -> None:
        """Forget the sends before one that took ``elapsed`` seconds: it is the measure now.

        For a send slow enough to hand the rest of its batch to the threads
        (``GIVE_BACK_SECONDS``): the run stays with the threads until their
        own sends say it can come back.
        """
        self._recent.clear()
        self._recent.append(elapsed)

    def submit(self, task: RecipientTask) -> None:
        """Queue ``task`` for the next free worker."""
        if not self._threads:
            self.start()
        self._tasks.put(task)

    def submit_all(self, tasks: Sequence[RecipientTask]) -> None:
        """Queue ``tasks``, one per hand-off, in order."""
        if not self._threads and tasks:
            self.start()
        put = self._tasks.put
        for task in tasks:
            put(task)

    def start(self) -> None:
        """Start the ``size`` workers, unless they were: ``submit`` does it when needed.

        Call it before taking responsibility for tasks the pool is about to
        get, so the wait for the threads to start (about 1 ms each) does not
        fall between claiming rows and queueing them. Only the consuming
        thread queues tasks, and never after ``close``.
        """
        if self._threads:
            return
        assert not self._closed, "tasks queued after close() would never be sent"
        self._threads = [
            threading.Thread(
                target=self._context.copy().run,
                args=(self._work,),
                name=f"broadcastio-send-{number}",
                daemon=True,
            )
            for number in range(1, self._size + 1)
        ]
        for thread in self._threads:
            # Counted first: its end is always posted once it has started.
            self.running += 1
            try:
                thread.start()
            except BaseException:
                self.running -= 1
                raise

    def cancel(self) -> None:
        """Let running sends finish, but send nothing that is still queued."""
        self._cancelled.set()

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
            # Never below 0: a Ctrl-C inside ``Thread.start`` uncounts a thread that may run.
            self.running = max(self.running - 1, 0)
        return event

    def ready_event(self) -> PoolEvent | None:
        """Something a worker already posted, without waiting."""
        results = self._results
        if results.empty():
            return None
        event = results.get_nowait()  # only this thread takes from the queue
        if event is _FINISHED:
            # Never below 0: a Ctrl-C inside ``Thread.start`` uncounts a thread that may run.
            self.running = max(self.running - 1, 0)
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
        tasks, results, sent = self._tasks, self._results, self._sent
        orchestrator, cancelled, clock = self._orchestrator, self._cancelled, time.perf_counter
        note = self._recent.append
        try:
            while True:
                task = tasks.get()
                if task is _STOP:
                    return
                assert isinstance(task, RecipientTask)
                if cancelled.is_set():
                    results.put(NotSent(task))
                    continue
                started = clock()
                sent.append(send_recipient(orchestrator, task, None))
                note(clock() - started)
                results.put(_POSTED)
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread
            results.put(WorkerCrashed(error))
        finally:
            results.put(_FINISHED)

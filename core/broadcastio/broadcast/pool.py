"""The threads that send: N workers pulling ``RecipientTask``s and posting outcomes back.

Plain threads and two ``queue.SimpleQueue``s rather than a
``ThreadPoolExecutor``: the runner bounds how many tasks are queued itself, so
the pool needs no bounded queue, and skipping a ``Future`` per recipient is
measurably cheaper (see ``bench/bench_broadcast.py``). Everything a worker
produces, including its own end and any exception that escapes a task, comes
back through one results queue, so the thread consuming the broadcast is the
only one that makes decisions.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from typing import TYPE_CHECKING

import attrs

from broadcastio.broadcast.group_commit import GroupCommit
from broadcastio.broadcast.task import RecipientOutcome, RecipientTask, send_recipient

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["NotSent", "PoolEvent", "WorkerCrashed", "WorkerFinished", "WorkerPool"]


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


_FINISHED = WorkerFinished()
_STOP = object()  # put once per worker: "no more tasks"

PoolEvent = RecipientOutcome | NotSent | WorkerCrashed | WorkerFinished


class WorkerPool:
    """``size`` daemon threads running ``send_recipient`` on submitted (claimed) tasks.

    Daemon threads, so a process that is exiting anyway (a second Ctrl-C) is not
    held up by a slow provider; the runner always waits for them otherwise. Each
    thread runs in its own copy of ``context`` (threads do not inherit the
    context of the thread that starts them), so context variables the run set
    up, such as the current OpenTelemetry span, reach every send.

    With ``journal`` (a journaled run), outcomes are committed several per
    transaction by a ``GroupCommit``, which posts each back once it is
    committed: the consuming thread only ever sees journaled outcomes.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        journal: Journal | None,
        size: int,
        *,
        context: contextvars.Context | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._tasks: queue.SimpleQueue[RecipientTask | object] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[PoolEvent] = queue.SimpleQueue()
        self._committer = (
            None
            if journal is None
            else GroupCommit(orchestrator, journal, self._results.put)
        )
        if self._committer is not None:
            self._committer.start_flusher()
        self._cancelled = threading.Event()
        self._closed = False
        self.running = size
        # Threads still working, counted down by the threads themselves.
        self._working = size
        self._ending = threading.Lock()
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

    def _work(self) -> None:
        tasks, results = self._tasks, self._results
        orchestrator, committer = self._orchestrator, self._committer
        cancelled = self._cancelled
        try:
            while True:
                try:
                    task = tasks.get(block=False)
                except queue.Empty:
                    if committer is not None:
                        committer.flush()  # nothing to send: commit what waits first
                    task = tasks.get()
                if task is _STOP:
                    if committer is not None:
                        # Waits for a commit under way: its outcomes are posted before
                        # this thread says it is finished, so none arrives after the last.
                        committer.flush(wait=True)
                    return
                assert isinstance(task, RecipientTask)
                if cancelled.is_set():
                    results.put(NotSent(task))
                    continue
                if committer is not None:
                    committer.flush_if_due()
                outcome = send_recipient(orchestrator, task, None)
                if committer is None:
                    results.put(outcome)
                else:
                    committer.add(outcome)  # posted once committed (see GroupCommit)
        except BaseException as error:  # noqa: BLE001 - handed to the consuming thread
            results.put(WorkerCrashed(error))
        finally:
            with self._ending:
                self._working -= 1
                last = self._working == 0
            if last and committer is not None:
                committer.stop_flusher()
                try:
                    committer.flush(wait=True)  # after a crash: what the others left
                except Exception:  # noqa: BLE001 - the journal failing again; reported already
                    pass
            results.put(_FINISHED)

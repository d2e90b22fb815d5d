"""``run_workers``: Dramatiq worker processes that deliver a broadcast's recipients.

Each worker process connects to the queue's Redis, opens the journal, builds
the orchestrator from the configuration (paced fleet-wide, see ``fleet``), and
runs a Dramatiq ``Worker`` with ``threads`` threads on the ``broadcastio``
queue. One Dramatiq message is one ``RecipientTask`` (``deliver_recipient``'s
serializable unit of work): the worker claims the row (``in_flight``,
committed), sends, commits the outcome, and only then does Dramatiq
acknowledge the message. A worker killed at any point before that leaves the
message unacknowledged; once its heartbeat is older than ``redelivery_seconds``
another worker takes the message again, finds the row ``in_flight`` and sends
it again under the same reference id (the provider's idempotency key).

A redelivered message whose outcome was already committed (the worker died
between the commit and the acknowledgement) is recognised by the row's attempt
count and not sent again, whatever the outcome was. A send that runs into a
provider's pause is not committed: the message goes back on the queue, delayed
until the window reopens (``deferral``). Every process refreshes its Dramatiq
heartbeat from a thread of its own, so waiting threads never make it look dead.

With more than one process, the first process is a supervisor: it starts
``processes`` children (``multiprocessing``'s spawn), forwards SIGTERM/SIGINT
to them, and replaces a child that dies unexpectedly.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import attrs

from broadcastio.broadcast.journal import Journal
from broadcastio.broadcast.journal.location import is_journal_url
from broadcastio.broadcast.pause import DEFAULT_MAX_PAUSE
from broadcastio.broadcast.states import RecipientState, recorded_provider
from broadcastio.broadcast.task import (
    RecipientTask,
    provider_address_kind,
    state_of_outcome,
)
from broadcastio.distributed.deferral import PauseDeferral
from broadcastio.distributed.lease import message_copy, message_done, message_queued
from broadcastio.distributed.queue import (
    ACTOR_NAME,
    DEFAULT_REDELIVERY_SECONDS,
    QUEUE_NAME,
    connect_broker,
)
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.errors import ConfigurationError

__all__ = ["WorkerOptions", "WorkerStartError", "WrongJournal", "run_workers", "start_worker"]

logger = logging.getLogger("broadcastio")

_SETTLED = (RecipientState.DELIVERED, RecipientState.FAILED, RecipientState.AMBIGUOUS)
# A child that dies sooner than this after starting is failing to start, not crashing:
# the supervisor gives up instead of restarting it in a loop.
_MIN_CHILD_LIFE = 5.0
# How long a stopping worker lets the sends under way finish (milliseconds, Dramatiq's unit).
_STOP_TIMEOUT_MS = 600_000
# Heartbeats written per --redelivery-after: three can be missed before a live worker looks dead.
_HEARTBEATS_PER_REDELIVERY = 4


@attrs.frozen
class WorkerOptions:
    """What ``broadcastio worker`` was asked for; picklable, so a child process gets it whole."""

    queue_url: str
    journal: Path | str
    processes: int = 1
    threads: int = 8
    config_path: Path | None = None
    providers: tuple[str, ...] = ()
    redelivery_seconds: float = DEFAULT_REDELIVERY_SECONDS
    log_level: int = logging.WARNING
    max_pause: float = DEFAULT_MAX_PAUSE


class WrongJournal(ConfigurationError):
    """A message names another journal than the worker's: its outcome would be lost."""


class WorkerStartError(ConfigurationError):
    """A supervised worker process died right after starting (exit 2 on the command line).

    The supervisor checked the queue, journal and configuration itself before
    starting children, so what kills a child this early is the environment
    (memory, a resource limit, a signal from outside): a problem to report in
    one line, not a bug to show as a traceback, and not one to restart in a loop.
    """


class _Deliverer:
    """The actor's body: one message, one recipient, journaled (or deferred past a rate limit).

    ``defer(payload, seconds)`` puts a message back on the queue with a delay:
    what a send that ran into a provider's pause does instead of sleeping
    (``deferral``).
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        journal: Journal,
        defer: Callable[[dict[str, Any], float], object],
        *,
        max_pause: float = DEFAULT_MAX_PAUSE,
    ) -> None:
        self.orchestrator = orchestrator
        self.journal = journal
        self.defer = defer
        self.pauses = PauseDeferral(journal, max_pause=max_pause)
        self._journal_identity = _identity(journal.location)

    def __call__(self, payload: dict[str, Any]) -> None:
        named = str(payload["journal"])
        if _identity(named) != self._journal_identity:
            raise WrongJournal(
                f"a message of broadcast {payload['task'].get('broadcast_id')!r} is journaled in "
                f"{named}, and this worker writes {self.journal.location}: start the worker "
                "with the submitter's --journal"
            )
        task = RecipientTask.from_dict(payload["task"])
        row = self.journal.row(task.broadcast_id, task.message.recipient)
        if row is not None and row.state in _SETTLED and row.attempts > task.attempts:
            # This message was delivered before (Dramatiq redelivers a message whose
            # worker died before acknowledging it) and its outcome is committed.
            logger.info(
                "broadcast %s: %r already settled (%s) by an earlier delivery of its message",
                task.broadcast_id,
                row.recipient,
                row.state.value,
            )
            return
        # What deliver_recipient does, with a rate-limit pause deferred in between.
        if not self.journal.mark_in_flight([task])[0]:
            return  # delivered by another message of this row
        outcome, pause = self.pauses.send(self.orchestrator, task)
        if pause is not None:
            # The row is in_flight with its attempt counted: the delayed copy's
            # "attempts before" is that count, so it tells its own later outcome apart.
            again = {**payload, "task": attrs.evolve(task, attempts=task.attempts + 1).to_dict()}
            self.defer(again, pause.seconds)
            logger.info(
                "broadcast %s: %r deferred %.0f s on the queue (%s)",
                task.broadcast_id,
                outcome.recipient,
                pause.seconds,
                pause.reason,
            )
            return
        result = outcome.result
        assert result is not None  # a sent outcome always has its result
        self.journal.record_outcome(
            task,
            state_of_outcome(outcome),
            result,
            address_kind=provider_address_kind(self.orchestrator, recorded_provider(result)),
        )
        logger.debug(
            "broadcast %s: %r %s", task.broadcast_id, outcome.recipient, outcome.status.value
        )


def _identity(location: str) -> tuple[int, int] | str:
    """What makes two journals one: a file's device and inode (else its resolved path);
    a server journal's URL without its password (the messages never carry one)."""
    if is_journal_url(location):
        return location
    path = Path(location)
    try:
        found = os.stat(path)
    except OSError:
        return str(path.resolve())
    return (found.st_dev, found.st_ino)


class _RunningWorker:
    """One process's Dramatiq worker, its journal and its orchestrator; ``stop()`` ends all."""

    def __init__(self, options: WorkerOptions) -> None:
        import dramatiq
        from dramatiq import Worker

        from broadcastio.distributed.fleet import worker_orchestrator

        broker = connect_broker(options.queue_url, redelivery_seconds=options.redelivery_seconds)
        self.broker = broker
        self.journal = Journal(options.journal)
        try:
            self.orchestrator = worker_orchestrator(
                options.config_path, options.providers, broker.client
            )
        except BaseException:
            self.journal.close()
            raise
        def defer(payload: dict[str, Any], seconds: float) -> None:
            # The copy is counted in the lease once it is on the queue, and once per
            # original (see lease); the original still holds the lease meanwhile.
            copy = message_copy(broker.client, payload)
            message: dramatiq.Message[Any] = dramatiq.Message(
                queue_name=QUEUE_NAME, actor_name=ACTOR_NAME, args=(copy,), kwargs={}, options={}
            )
            broker.enqueue(message, delay=max(1, math.ceil(seconds * 1000)))
            message_queued(broker.client, copy)

        deliverer = _Deliverer(
            self.orchestrator, self.journal, defer, max_pause=options.max_pause
        )

        def deliver(payload: dict[str, Any]) -> None:
            try:
                deliverer(payload)
            finally:
                # Journaled, skipped, deferred (a copy counted itself) or raised:
                # this message no longer holds its broadcast's queue lease. A kill
                # from here to the acknowledgement redelivers it: counted once anyway.
                message_done(broker.client, payload, self.journal)

        dramatiq.set_broker(broker)
        broker.declare_queue(QUEUE_NAME)
        dramatiq.actor(
            actor_name=ACTOR_NAME, queue_name=QUEUE_NAME, broker=broker, max_retries=0
        )(deliver)
        self.worker = Worker(broker, queues={QUEUE_NAME}, worker_threads=options.threads)
        self._heartbeat_every = options.redelivery_seconds / _HEARTBEATS_PER_REDELIVERY
        self._heartbeats_stop = threading.Event()
        self._heartbeats = threading.Thread(
            target=self._beat, name="broadcastio-heartbeat", daemon=True
        )

    def start(self) -> None:
        self.worker.start()
        self._heartbeats.start()
        logger.info("worker %d: delivering from queue %r", os.getpid(), QUEUE_NAME)

    def _beat(self) -> None:
        """Refresh this process's heartbeat in Redis, whatever its threads are doing.

        Dramatiq writes a worker's heartbeat only when one of its consumers
        fetches or acknowledges. A process whose prefetch is full and whose
        threads all wait (for a fleet slot, on a slow provider) fetches
        nothing; past ``redelivery_seconds`` the others would take it for
        dead and send its messages again while it is still sending them. The
        beat is Dramatiq's own dispatch script with nothing to requeue: it
        writes the heartbeat the way Dramatiq does, and nothing else.
        """
        while not self._heartbeats_stop.wait(self._heartbeat_every):
            try:
                self.broker.do_requeue(QUEUE_NAME)
            except Exception as error:  # noqa: BLE001 - Redis away for a moment: beat again
                logger.warning("worker %d: could not refresh its heartbeat: %s", os.getpid(), error)

    def stop(self) -> None:
        """Let the sends under way finish (and be acknowledged), then close everything."""
        try:
            self.worker.stop(timeout=_STOP_TIMEOUT_MS)
        finally:
            self._heartbeats_stop.set()
            if self._heartbeats.is_alive():
                self._heartbeats.join()
            self.broker.close()
            self.orchestrator.close()
            self.journal.close()


def start_worker(options: WorkerOptions) -> _RunningWorker:
    """A started worker in this process (for embedding and tests); ``stop()`` it when done."""
    running = _RunningWorker(options)
    running.start()
    return running


def run_workers(options: WorkerOptions) -> None:
    """Run until SIGTERM or SIGINT: one worker here, or a supervisor of ``processes`` children.

    Problems that stop a worker from starting (the queue, the journal, the
    configuration) are raised before anything is consumed.
    """
    if options.processes <= 1:
        _serve(options)
        return
    # Checked here, once, so a bad configuration or queue is one error, not N.
    _RunningWorker(options).stop()
    _supervise(options)


def _serve(options: WorkerOptions) -> None:
    stop = threading.Event()
    with _stopping_on_signals(stop) as signals:
        running = start_worker(options)
        try:
            while not signals.wait(3600):
                pass
        finally:
            logger.info("worker %d: stopping after the sends under way", os.getpid())
            running.stop()


def _child_main(options: WorkerOptions) -> None:
    """A supervised child process: log like the parent, serve until told to stop."""
    logging.basicConfig(
        level=options.log_level, format="broadcastio: %(levelname)s: %(message)s", force=True
    )
    _serve(attrs.evolve(options, processes=1))


def _supervise(options: WorkerOptions) -> None:
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    children: list[tuple[Any, float]] = []

    def start_child() -> tuple[Any, float]:
        child = context.Process(target=_child_main, args=(options,), name="broadcastio-worker")
        child.start()
        return child, time.monotonic()

    with _stopping_on_signals(stop) as signals:
        children = [start_child() for _ in range(options.processes)]
        try:
            while not signals.wait(0.5):
                for position, (child, started) in enumerate(children):
                    if child.is_alive():
                        continue
                    if time.monotonic() - started < _MIN_CHILD_LIFE:
                        raise WorkerStartError(
                            f"worker process {child.pid} exited with status {child.exitcode} "
                            "right after starting; run with --processes 1 -v to see why"
                        )
                    logger.warning(
                        "worker process %d exited with status %s; starting a replacement",
                        child.pid,
                        child.exitcode,
                    )
                    children[position] = start_child()
        finally:
            for child, _ in children:
                if child.is_alive():
                    os.kill(child.pid, signal.SIGTERM)
            for child, _ in children:
                child.join()


class _stopping_on_signals:  # noqa: N801 - used as a context manager, like contextlib's
    """SIGTERM and SIGINT set ``stop`` (the main thread then winds down) while inside.

    The handler only sets a flag: it runs in the main thread between two
    bytecodes, possibly inside ``stop.set()`` itself (a second signal while the
    first is handled), and ``Event.set`` takes a lock that is not reentrant.
    ``wait`` turns the flag into the event, polling.
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _stopping_on_signals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self._requested = True

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a stop; whether one was asked (by a signal or ``stop``)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            if self._requested:
                self._stop.set()
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(0.1, left))
        return self._stop.is_set()

    def __exit__(self, *_: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

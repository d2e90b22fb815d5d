"""``BroadcastRun``: the loop that reads the input, feeds the senders and yields outcomes.

Only the thread consuming the run reads the input, admits rows and commits
them as in flight (a batch at a time), commits outcomes (every outcome that
has come back, in one transaction, through a ``GroupCommit``), counts and
calls ``on_result``; the pool's threads only run ``send_recipient`` and post
the outcome back. So the journal has one writer per run: its lock is never
contended, and while this thread waits on SQLite the pool's threads send.
At concurrency 1 there is no pool: the consuming thread sends itself, in the
run's context, and commits the outcomes of up to ``_INLINE_BATCH`` sends
together. At a higher concurrency it does the same, a batch of
``concurrency`` rows at a time, while the recent sends average under
``pool.FAST_SEND_SECONDS``: such sends do not wait for anything, so threads
would only add a hand-off there and back per send; a send slower than
``pool.GIVE_BACK_SECONDS`` hands the rest of its batch to the pool, and so
does a batch slow on average. A run's first sends go to the pool. At most
``2 * concurrency`` recipients (``_INLINE_BATCH`` at concurrency 1) are
between "read from the input" and "outcome yielded": that bound keeps memory
flat for a million-row input and lets a run stop within a couple of sends.

However a run ends early (stop event, the consumer closing it,
``KeyboardInterrupt``, an exception), nothing more is read or sent, the sends
under way in the pool's threads finish and are journaled (a send on the
consuming thread that a ``KeyboardInterrupt`` cuts short leaves its row
``in_flight``), queued ones are dropped (their rows go back
to ``pending``, or to what they were before), and ``report`` is set before the
exception, if any, propagates. A problem with the input itself (a row that is
not a ``Message``, an error raised by the iterator) is gentler: the rows read
before it are all sent, then it is raised.

When the journal itself fails (a full disk, an I/O error, the file deleted:
``JournalError``), the run stops the same way and the first such error is what
propagates; the journal failing again while the run winds down is expected and
logged only at debug level, so a person sees one line, not a traceback per
sending thread. A run that ends in an exception before any of its rows was
journaled (a resume refused at its first batch) is forgotten by the journal
(``Journal.abandon_run``): no run counted, the last report kept.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import logging
import time
from collections.abc import Generator, Iterator, Sequence
from itertools import chain, islice
from types import TracebackType
from typing import TYPE_CHECKING, Any

from broadcastio.broadcast.admission import Admitter, check_message
from broadcastio.broadcast.group_commit import GroupCommit
from broadcastio.broadcast.journal import Journal, JournalError
from broadcastio.broadcast.options import BroadcastOptions, OnResult
from broadcastio.broadcast.pause import PausePolicy, install_pause_policy
from broadcastio.broadcast.pool import (
    FAST_SEND_SECONDS,
    GIVE_BACK_SECONDS,
    NotSent,
    PoolEvent,
    Posted,
    WorkerCrashed,
    WorkerPool,
)
from broadcastio.broadcast.report import BroadcastReport, ReportTally
from broadcastio.broadcast.states import RecipientStatus
from broadcastio.broadcast.task import (
    RecipientOutcome,
    RecipientTask,
    send_recipient,
)
from broadcastio.engine.hook_caller import IsolatedHookCaller
from broadcastio.errors import ValidationError
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.contact import shown_recipient
from broadcastio.records.message import Message

if TYPE_CHECKING:
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["BroadcastRun", "OnResult"]

logger = logging.getLogger("broadcastio")

# How often a consumer waiting for sends looks at the stop event.
_POLL_SECONDS = 0.05
# Concurrency 1 sends on the consuming thread, this many rows admitted at a time.
_INLINE_BATCH = 32
# ... and commits (then yields) the outcomes it has at least this often, so a
# slow provider's outcomes are not held back for a whole batch.
_INLINE_COMMIT_SECONDS = 0.05


class BroadcastRun:
    """One run of a broadcast: an iterator of ``RecipientOutcome``, then its report.

    Made by ``iter_broadcast``, from the ``BroadcastOptions`` it was given
    with the broadcast id decided and the journal open (``options``);
    ``owns_journal`` says whether the run closes that journal when it ends.
    Outcomes come in completion order, one per input row read. ``report`` is
    ``None`` until the run ends, then the run's ``BroadcastReport``
    (``interrupted=True`` unless the input was exhausted).
    ``run`` is the run's number for its broadcast id, known once iteration has
    started. Use it as a context manager, or call ``close()``, when you may stop
    iterating early: the run then winds down at a known point.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        messages: Iterator[Any],
        options: BroadcastOptions,
        *,
        owns_journal: bool,
    ) -> None:
        if not isinstance(options, BroadcastOptions):
            raise ValidationError(
                f"options must be a BroadcastOptions, got {type(options).__name__}"
            )
        journal, broadcast_id = options.journal, options.broadcast_id
        if broadcast_id is None or not (journal is None or isinstance(journal, Journal)):
            raise ValidationError(
                "a BroadcastRun needs options with a broadcast_id and an open Journal (or no "
                "journal); iter_broadcast makes them"
            )
        self.options = options
        self.broadcast_id: str = broadcast_id
        self.journal: Journal | None = journal
        self.concurrency = options.concurrency
        self.retry_failed = options.retry_failed
        self.run: int | None = None
        self.report: BroadcastReport | None = None
        self._orchestrator = orchestrator
        self._messages = messages
        self._owns_journal = owns_journal
        self._on_result: OnResult | None = options.on_result
        self._stop = options.stop
        concurrency = options.concurrency
        # At most ``window`` rows between "read" and "outcome yielded"; reading
        # resumes once ``refill`` of them have completed.
        self._window = 2 * concurrency
        self._refill = concurrency
        self._in_flight = 0
        # Reading the input: the last row's index, and whether it has ended.
        self._index = -1
        self._exhausted = False
        # Commits the outcomes of the run's sends, on this thread, with a journal.
        self._committer: GroupCommit | None = None
        self._tally = ReportTally()
        self._warned_codes: set[ErrorCode] = set()
        self._input_error: Exception | None = None
        self._admitted_any = False
        self._started = False
        # The run's own context: the broadcast hooks run in it and every sending
        # thread runs in a copy of it, so what a before_broadcast implementation
        # makes current (an OpenTelemetry span) is seen by each send of this run,
        # and the thread iterating the run keeps its own context untouched.
        self._context = contextvars.copy_context()
        # Rate limits are waited out in the sending threads (pause.py).
        self._context.run(
            install_pause_policy,
            PausePolicy(
                broadcast_id=broadcast_id,
                max_pause=options.max_pause,
                stop=options.stop,
                on_pause=options.on_pause,
                journal=journal,
            ),
        )
        self._announced = False
        # The loop yields outcomes a batch at a time (a list, or one at a time
        # with ``on_result``); the run hands them out one by one. Flattened in
        # C: a row's outcome does not pass through the loop's five generators.
        self._batches = self._generate()
        self._outcomes: Iterator[RecipientOutcome] = chain.from_iterable(self._batches)

    def __iter__(self) -> BroadcastRun:
        return self

    def __next__(self) -> RecipientOutcome:
        return next(self._outcomes)

    def close(self) -> None:
        """End the run now: nothing more is read or sent; sends under way finish first."""
        # What is left of the batch being handed out was committed and counted,
        # as before; a closed run hands out nothing more, even if closing the
        # loop is itself interrupted (a second Ctrl-C during the wind-down).
        self._outcomes = iter(())
        self._batches.close()
        if not self._started and self._owns_journal and self.journal is not None:
            self._owns_journal = False
            self.journal.close()

    def __enter__(self) -> BroadcastRun:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run_to_end(self) -> BroadcastReport:
        """Iterate the run to its end without looking at the outcomes; its report.

        For ``broadcast()``: the same as ``for _ in run: pass``, without a call
        of ``__next__`` per row.
        """
        for _ in self._outcomes:
            pass
        assert self.report is not None
        return self.report

    def __repr__(self) -> str:
        state = "done" if self.report is not None else "running" if self._started else "new"
        return f"BroadcastRun({self.broadcast_id!r}, run={self.run}, {state})"

    # -- the loop ------------------------------------------------------------------------

    def _generate(self) -> Generator[Sequence[RecipientOutcome], None, None]:
        self._started = True
        started = time.perf_counter()
        started_at = _dt.datetime.now(_dt.timezone.utc)
        journal = self.journal
        pool: WorkerPool | None = None
        interrupted = failing = False
        try:
            self.run = journal.begin_run(self.broadcast_id) if journal is not None else 1
            if journal is not None:
                # Checked under the claim, so no submitter can queue it in between:
                # workers may still hold its rows (QueuedBroadcastBusy; see journal.queued).
                journal.refuse_while_queued(self.broadcast_id)
            logger.info(
                "broadcast %s: run %d starting (concurrency %d, journal %s)",
                self.broadcast_id,
                self.run,
                self.concurrency,
                None if journal is None else journal.location,
            )
            self._fire(
                "before_broadcast",
                {
                    "broadcast_id": self.broadcast_id,
                    "run": self.run,
                    "concurrency": self.concurrency,
                },
            )
            self._announced = True
            admit = Admitter(self.broadcast_id, self.run, journal, self.retry_failed)
            if journal is not None:
                self._committer = GroupCommit(self._orchestrator, journal)
            if self.concurrency == 1:
                interrupted = yield from self._dispatch_inline(admit)
            else:
                pool = WorkerPool(self._orchestrator, self.concurrency, context=self._context)
                interrupted = yield from self._dispatch(pool, admit)
                pool.close()
                while pool.running:
                    yield from self._deliver(self._collect(pool, pool.next_event(_POLL_SECONDS)))
            if self._input_error is not None:
                raise self._input_error
        except BaseException:
            interrupted = failing = True
            if pool is not None:
                self._drain_quietly(pool)
            raise
        finally:
            self._finish(started, started_at, interrupted, failing, pool)

    def _dispatch(
        self, pool: WorkerPool, admit: Admitter
    ) -> Generator[Sequence[RecipientOutcome], None, bool]:
        """Feed the pool from the input; returns whether the stop event ended it.

        The input is read in batches that refill the window once half of it has
        completed, so admission (a journal round trip) happens once per batch
        rather than once per row. While sends are fast (the pool's average),
        this thread waits for the pool's sends under way, then sends the next
        batch of ``concurrency`` rows itself (``_send_here``), one at a time.
        Every outcome that has come back is committed in one transaction
        before it is yielded (``_collect``). A bad row, or an error raised by
        the input itself, ends the reading: it is raised once the rows read
        before it have been sent (see ``_generate``).
        """
        stop, window, refill = self._stop, self._window, self._refill
        while True:
            # Nothing can have come back while no thread has started (or is left),
            # nor while no task is in flight (sends are being made on this thread).
            if pool.running and self._in_flight:
                yield from self._deliver(self._collect(pool, pool.ready_event()))
            if stop is not None and stop.is_set():
                logger.info("broadcast %s: stop requested", self.broadcast_id)
                pool.cancel()
                return True
            if self._exhausted:
                return False
            if pool.recent_send_seconds < FAST_SEND_SECONDS:
                if self._in_flight:
                    # Sends are fast: once the threads have finished theirs, this
                    # thread sends the next batch itself (one send at a time).
                    yield from self._deliver(self._collect(pool, pool.next_event(_POLL_SECONDS)))
                    continue
                tasks = yield from self._admit_tasks(admit, refill)
                yield from self._send_here(tasks, pool)
                continue
            room = window - self._in_flight
            if room < refill:
                yield from self._deliver(self._collect(pool, pool.next_event(_POLL_SECONDS)))
                continue
            # Started before rows are claimed: starting threads takes about 1 ms each.
            pool.start()
            claimed, skipped = self._admit_next(admit, room)
            pool.submit_all(claimed)
            self._in_flight += len(claimed)
            # Yielded only once the whole batch is with the senders, so a consumer
            # that stops here leaves no claimed row unsent.
            yield from self._deliver_skipped(skipped)

    def _dispatch_inline(
        self, admit: Admitter
    ) -> Generator[Sequence[RecipientOutcome], None, bool]:
        """Concurrency 1: send on this thread, in the run's context; whether a stop ended it.

        Handing each row to one worker thread and its outcome back costs two
        thread switches per row, several times a fast provider's own send.
        Here the sends run right in the loop (``_send_here``), a batch of
        ``_INLINE_BATCH`` rows admitted (and, with a journal, claimed) at a time.
        """
        stop = self._stop
        while True:
            if stop is not None and stop.is_set():
                logger.info("broadcast %s: stop requested", self.broadcast_id)
                return True
            if self._exhausted:
                return False
            tasks = yield from self._admit_tasks(admit, _INLINE_BATCH)
            yield from self._send_here(tasks, None)

    def _admit_tasks(
        self, admit: Admitter, room: int
    ) -> Generator[Sequence[RecipientOutcome], None, list[RecipientTask]]:
        """Admit up to ``room`` rows; yields the outcomes of those not to send, returns the rest.

        The tasks returned are counted in flight before anything is yielded, so
        a consumer that stops at a skipped row leaves them to be released.
        """
        tasks, skipped = self._admit_next(admit, room)
        self._in_flight += len(tasks)
        try:
            yield from self._deliver_skipped(skipped)
        except BaseException:
            self._in_flight -= len(tasks)
            for outcome in self._release(tasks):
                self._tally.add(outcome)
            raise
        return tasks

    def _send_here(
        self, tasks: list[RecipientTask], pool: WorkerPool | None
    ) -> Generator[Sequence[RecipientOutcome], None, None]:
        """Send ``tasks`` (counted in flight) on this thread, in the run's context.

        Each send runs in the run's context (what ``before_broadcast`` made
        current is current for every send, as in a worker thread). Outcomes
        are committed together and then yielded, once the tasks are done or a
        slow send has held them for ``_INLINE_COMMIT_SECONDS``. The stop event
        is looked at before each send: the rest then go back to the journal
        unsent. With ``pool`` (concurrency above 1, while sends are fast), each
        send's duration feeds the pool's average, and after a send slower
        than ``GIVE_BACK_SECONDS`` the rest go to the pool's threads, so a
        provider that turns slow gets ``concurrency`` sends under way again.

        Unlike a worker thread, this thread is the one a Ctrl-C interrupts:
        the send it cuts short leaves its row ``in_flight`` (a resume sends it
        again, under the same reference id), and the outcomes before it are
        committed first.
        """
        stop, orchestrator, context = self._stop, self._orchestrator, self._context
        tally_add, clock = self._tally.add, time.perf_counter
        done: list[RecipientOutcome] = []
        position, count = 0, len(tasks)
        # Each task leaves the run's count here, one way or another: sent on
        # this thread, handed to the pool (counted again then), or released.
        self._in_flight -= count
        try:
            # One clock reading per send: a send's time is from the end of the
            # one before (the bookkeeping between them is a microsecond or two).
            started = clock()
            flush_at = started + _INLINE_COMMIT_SECONDS
            durations: list[float] = []  # of this batch's sends, for the pool's measure
            while position < count:
                if stop is not None and stop.is_set():
                    break
                task = tasks[position]
                # Counted as started first: a send cut short keeps its claim.
                position += 1
                outcome = context.run(send_recipient, orchestrator, task, None)
                finished = clock()
                # _count_sent, without its call (once per row).
                tally_add(outcome)
                result = outcome.result
                if result is not None and result.error is not None:
                    self._warn_once(outcome, result.error.code, result.error.message)
                done.append(outcome)
                elapsed = finished - started
                durations.append(elapsed)
                started = finished
                if elapsed >= GIVE_BACK_SECONDS and pool is not None and position < count:
                    # The measure starts again from this send, so the run stays
                    # with the threads until their own sends say otherwise.
                    pool.restart_measure(elapsed)
                    durations = []
                    pool.start()  # before any task is the pool's: this may take a while
                    while position < count:
                        # The pool's from here (its outcome settles it), so neither
                        # released below nor counted twice, whenever a Ctrl-C lands.
                        task = tasks[position]
                        position += 1
                        self._in_flight += 1
                        pool.submit(task)
                if finished >= flush_at:
                    self._commit(done)
                    ready, done = done, []
                    yield from self._deliver(ready)
                    started = clock()
                    flush_at = started + _INLINE_COMMIT_SECONDS
            if pool is not None and durations:
                # Once per batch: its sends join the pool's measure of the latest
                # ``concurrency`` sends, whose mean leaves the slowest out (one
                # slow send is usually this process or the machine pausing, a
                # garbage collection, not the provider).
                pool.note_send_seconds(*durations)
            self._commit(done)
            ready, done = done, []
            yield from self._deliver(ready)
            if position < count:  # the stop event: the rest of the batch is not sent
                unsent, position = tasks[position:], count
                yield from self._deliver_skipped(self._release(unsent))
        finally:
            # An exception or the consumer closing the run: the sends made are
            # committed (if not yet), the claims of the rest undone.
            if done:
                self._commit_quietly(done)
            if position < count:
                for outcome in self._release(tasks[position:]):
                    self._tally.add(outcome)

    def _admit_next(
        self, admit: Admitter, room: int
    ) -> tuple[list[RecipientTask], list[RecipientOutcome]]:
        """Read up to ``room`` rows and admit them (a bad row or a failing input ends reading)."""
        index = self._index
        rows: list[tuple[int, Message]] = []
        try:
            # islice never reads past ``room`` rows; a for loop over it costs less
            # per row than calling next() in a try block.
            for item in islice(self._messages, room):
                index += 1
                if not isinstance(item, Message):
                    check_message(index, item)  # raises, naming the row
                rows.append((index, item))
        except Exception as error:  # noqa: BLE001 - raised after the rows before it
            self._input_error = error
            self._exhausted = True
        else:
            if len(rows) < room:
                self._exhausted = True
        self._index = index
        if not rows:
            return [], []
        tasks, skipped = admit(rows)
        self._admitted_any = True
        return tasks, skipped

    def _deliver_skipped(
        self, skipped: list[RecipientOutcome]
    ) -> Generator[Sequence[RecipientOutcome], None, None]:
        for outcome in skipped:
            self._tally.add(outcome)
            self._notify(outcome)
            # One at a time: a consumer that stops here leaves the rest uncounted.
            yield (outcome,)

    def _deliver(
        self, ready: list[RecipientOutcome]
    ) -> Generator[Sequence[RecipientOutcome], None, None]:
        """Yield outcomes that are settled (and committed), telling ``on_result`` first."""
        if self._on_result is None:
            if ready:
                yield ready
            return
        for outcome in ready:
            self._notify(outcome)
            # One at a time: on_result sees only outcomes handed out.
            yield (outcome,)

    def _collect(self, pool: WorkerPool, event: PoolEvent | None) -> list[RecipientOutcome]:
        """``event`` and every event already posted, settled and committed: the outcomes to yield.

        Taking all that are ready at once keeps this thread's visits to the
        queue few, and makes them one group commit: the more sends completed
        while this thread was busy, the more outcomes share the transaction.
        The sent outcomes leave the pool only once committed (``take_sent``).
        """
        ready: list[RecipientOutcome] = []
        while event is not None:
            outcome = self._settle(event)
            if outcome is not None:
                ready.append(outcome)
            event = pool.ready_event()
        sent = pool.take_sent(self._commit)
        self._in_flight -= len(sent)
        for outcome in sent:
            self._count_sent(outcome)
        ready += sent
        return ready

    def _take_sent_quietly(self, pool: WorkerPool) -> None:
        """``_collect``'s commit while the run already ends in an error: a failure is logged."""
        try:
            sent = pool.take_sent(self._commit)
        except JournalError:
            logger.debug(
                "broadcast %s: the journal failed again while stopping",
                self.broadcast_id,
                exc_info=True,
            )
            # Counted all the same: their rows stay in_flight, which a resume sends again.
            sent = pool.take_sent(None)
        self._in_flight -= len(sent)
        for outcome in sent:
            self._count_sent(outcome)

    def _commit(self, outcomes: list[RecipientOutcome]) -> None:
        """Journal the final state of the sent ones among ``outcomes``, in one transaction."""
        if self._committer is not None:
            self._committer.commit(outcomes)

    def _commit_quietly(self, outcomes: list[RecipientOutcome]) -> None:
        """``_commit`` while the run is already ending in an error: a failure is only logged."""
        try:
            self._commit(outcomes)
        except JournalError:
            logger.debug(
                "broadcast %s: the journal failed again while stopping",
                self.broadcast_id,
                exc_info=True,
            )

    def _release(self, tasks: list[RecipientTask]) -> list[RecipientOutcome]:
        """Undo the claims of ``tasks``, never sent; their ``NOT_SENT`` outcomes."""
        if self.journal is not None:
            try:
                self.journal.release(tasks)
            except JournalError:
                # The rows stay in_flight: a resume sends them, under the same keys.
                logger.debug("broadcast %s: could not release claims", self.broadcast_id)
        return [RecipientOutcome.unsent(task, RecipientStatus.NOT_SENT) for task in tasks]

    def _settle(self, event: PoolEvent | None) -> RecipientOutcome | None:
        """Account for one pool event; the outcome to yield, if it is one.

        Sent outcomes do not come as events (``_collect`` takes them from the
        pool); a ``Posted`` event only woke this thread up for them.
        """
        if event is None or type(event) is Posted:
            return None
        if isinstance(event, NotSent):
            if self.journal is not None:
                try:
                    self.journal.release([event.task])
                except JournalError:
                    # The row stays in_flight: a resume sends it, under the same key.
                    logger.debug("broadcast %s: could not release a claim", self.broadcast_id)
            outcome = RecipientOutcome.unsent(event.task, RecipientStatus.NOT_SENT)
        elif isinstance(event, WorkerCrashed):
            self._in_flight -= 1
            raise event.error
        else:
            return None
        self._in_flight -= 1
        self._count_sent(outcome)
        return outcome

    def _count_sent(self, outcome: RecipientOutcome) -> None:
        """Count an outcome of this run's sending; a failure's code is logged once per run."""
        self._tally.add(outcome)
        result = outcome.result
        if result is not None and result.error is not None:
            self._warn_once(outcome, result.error.code, result.error.message)

    def _fire(self, hook_name: str, arguments: dict[str, Any]) -> None:
        """Call ``hook_name``'s implementations on the orchestrator's relay, in the run's context.

        Fired once per run, so the caller is built on the spot. A relay without
        this hook (one made before the hook existed) simply has no listener.
        """
        try:
            caller = IsolatedHookCaller(self._orchestrator.plugin_manager, hook_name)
        except LookupError:
            return
        if caller.listeners:
            self._context.run(caller.call, arguments)

    def _notify(self, outcome: RecipientOutcome) -> None:
        on_result = self._on_result
        if on_result is None:
            return
        try:
            on_result(outcome)
        except Exception:  # noqa: BLE001 - an observer must not change delivery
            logger.warning("broadcast %s: on_result raised", self.broadcast_id, exc_info=True)

    def _warn_once(self, outcome: RecipientOutcome, code: ErrorCode, text: str) -> None:
        # One warning per error code and run: a dead channel must not log a
        # million lines, and the report and the journal have every failure.
        if code not in self._warned_codes:
            self._warned_codes.add(code)
            logger.warning(
                "broadcast %s: %s for %r: %s (further %s failures are not logged)",
                self.broadcast_id,
                code.value,
                # A contact's key may hold a webhook URL: its secret path is hidden.
                shown_recipient(outcome.recipient),
                text,
                code.value,
            )

    def _drain_quietly(self, pool: WorkerPool) -> None:
        """After an exception: send nothing more, wait for the sends under way, count them.

        Their outcomes, and any counted but not yet committed when the
        exception came, are committed as they arrive; the journal failing
        again is only logged (the first error is the one reported).
        """
        pool.cancel()
        pool.close()
        while pool.running:
            self._take_sent_quietly(pool)
            event = pool.next_event(_POLL_SECONDS)
            if isinstance(event, WorkerCrashed) and isinstance(event.error, JournalError):
                # The journal failing again for another sender: the run is already
                # stopping because of it, and the first error is the one reported.
                logger.debug(
                    "broadcast %s: the journal failed again while stopping",
                    self.broadcast_id,
                    exc_info=event.error,
                )
            elif isinstance(event, WorkerCrashed):
                logger.error(
                    "broadcast %s: a send failed while stopping",
                    self.broadcast_id,
                    exc_info=event.error,
                )
            else:
                self._settle(event)
        self._take_sent_quietly(pool)

    def _finish(
        self,
        started: float,
        started_at: _dt.datetime,
        interrupted: bool,
        failing: bool,
        pool: WorkerPool | None,
    ) -> None:
        journal = self.journal
        report = self._tally.report(
            broadcast_id=self.broadcast_id,
            run=self.run or 0,
            started_at=started_at,
            finished_at=_dt.datetime.now(_dt.timezone.utc),
            elapsed_seconds=time.perf_counter() - started,
            interrupted=interrupted,
            journal=None if journal is None else journal.location,
        )
        self.report = report
        if self._announced:
            self._announced = False
            self._fire("after_broadcast", {"report": report})
        logger.info(
            "broadcast %s: run %d %s: %d read, %d delivered, %d failed, %d ambiguous, %d not sent",
            self.broadcast_id,
            report.run,
            "interrupted" if interrupted else "finished",
            report.total,
            report.delivered,
            report.failed,
            report.ambiguous,
            report.skipped,
        )
        if journal is None:
            return
        try:
            if self.run is not None and failing and not self._admitted_any:
                journal.abandon_run(self.broadcast_id, self.run)
            elif self.run is not None:
                journal.end_run(report)
        except JournalError:
            if not failing:
                raise
            logger.debug("broadcast %s: could not journal the end of the run", self.broadcast_id)
        except Exception:
            if not failing:
                raise
            logger.warning(
                "broadcast %s: could not journal the report", self.broadcast_id, exc_info=True
            )
        finally:
            # Threads still sending (a second Ctrl-C cut the wait short) keep using
            # the journal; the process is ending anyway, so leave it open for them.
            if self._owns_journal and (pool is None or pool.running == 0):
                self._owns_journal = False
                journal.close()

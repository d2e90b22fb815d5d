"""``submit_broadcast``: record a broadcast, put one Dramatiq message per recipient, watch it.

The submitter does what ``iter_broadcast`` does up to the send: it claims the
broadcast id (``Journal.begin_run``, so two submitters of one id are refused),
reads the input a batch at a time, admits each batch into the journal (new
recipients become ``pending``; duplicates, recipients an earlier run delivered
and, without ``retry_failed``, failed ones are skipped as usual) and then, in
place of sending, enqueues one message per recipient to send. Rows stay
``pending`` until a worker claims them, so an enqueued message that is never
delivered (Redis flushed, a dead-lettered message) leaves a row a resume
picks up.

Then it watches the journal, not the queue: progress is the journal's counts,
and a recipient is settled once its row holds an outcome made after the
submission (its attempt count went up). When every enqueued recipient is
settled, the report is built from those rows, kept as the run's report
(``Journal.end_run``) and returned: the same ``BroadcastReport`` a
single-process run gives. ``detach=True`` returns right after enqueuing; the
run then has no report in the journal until a later run ends, and
``broadcastio journal show ID`` shows the rows as the workers settle them.

Stopping (the ``stop`` event: Ctrl-C on the command line) while enqueuing stops
enqueuing: the rows not enqueued stay ``pending`` for a resume. Stopping while
watching only stops watching; the workers deliver what was enqueued.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from broadcastio.broadcast.admission import prepare_message, skip_status
from broadcastio.broadcast.journal import Journal, JournalRow
from broadcastio.broadcast.report import BroadcastReport, ReportTally
from broadcastio.broadcast.states import RecipientState, RecipientStatus
from broadcastio.broadcast.task import RecipientOutcome, RecipientTask
from broadcastio.distributed.lease import QueueLease
from broadcastio.distributed.queue import ACTOR_NAME, QUEUE_NAME, connect_broker, redact_url
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.contact import recipient_key
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.message import Message
from broadcastio.records.result import DeliveryResult

__all__ = ["Progress", "SubmittedBroadcast", "submit_broadcast"]

logger = logging.getLogger("broadcastio")

_BATCH = 500
_POLL_SECONDS = 0.5
# Rows looked up per poll past the first unsettled one: the queue is roughly
# first in, first out, so the settled rows are mostly at the front.
_LOOKAHEAD = 200
# Seconds without a settled recipient before the watcher says no worker may be running.
_IDLE_WARNING_SECONDS = 30

_STATUS = {
    RecipientState.DELIVERED: RecipientStatus.DELIVERED,
    RecipientState.FAILED: RecipientStatus.FAILED,
    RecipientState.AMBIGUOUS: RecipientStatus.AMBIGUOUS,
}


@attrs.frozen
class Progress:
    """What the watcher knows: rows read, enqueued, settled so far, and the journal's counts."""

    read: int
    enqueued: int
    settled: int
    counts: dict[RecipientState, int]


@attrs.frozen
class SubmittedBroadcast:
    """The result of a submission: the run number, what was enqueued, and the report if watched.

    ``report`` is ``None`` for a detached submission. ``enqueued`` recipients
    went to the queue; ``skipped`` rows were not (duplicates, already
    delivered, not retried). ``interrupted`` is set when the stop event cut
    the enqueuing or the watching short.
    """

    broadcast_id: str
    run: int
    read: int
    enqueued: int
    skipped: int
    report: BroadcastReport | None = None
    interrupted: bool = False


def submit_broadcast(
    messages: Iterable[Message],
    *,
    journal: Journal,
    broadcast_id: str,
    queue_url: str,
    retry_failed: bool = False,
    detach: bool = False,
    stop: threading.Event | None = None,
    on_begin: Callable[[int], object] | None = None,
    on_progress: Callable[[Progress], object] | None = None,
    on_outcome: Callable[[RecipientOutcome], object] | None = None,
) -> SubmittedBroadcast:
    """Enqueue ``messages`` for the workers on ``queue_url`` and (unless ``detach``) wait.

    The queue is connected before the journal is touched, so an unreachable
    Redis or a refused password (``QueueError``) records nothing. ``journal``
    is left open; its claim on the broadcast id is released when the run ends
    (or, detached, right after enqueuing), while the queue lease (``lease``)
    stays until the workers are done with every message: a submission of an
    id whose lease is held raises ``QueuedBroadcastBusy``, recording nothing.
    A submitter whose share of the lease lapsed while it was queuing (it
    stalled for that long) stops queuing and raises ``QueueLeaseLapsed``.
    ``on_begin`` gets the run number once the claim and the lease are held,
    ``on_progress`` a ``Progress`` at every poll, ``on_outcome`` every row's
    outcome (skipped rows as they are read, sent ones as they settle).
    """
    broker = connect_broker(queue_url)
    broker.declare_queue(QUEUE_NAME)
    started = time.perf_counter()
    started_at = _dt.datetime.now(_dt.timezone.utc)
    run = journal.begin_run(broadcast_id)
    # Held while messages are outstanding, past a detach: see ``lease``.
    lease = QueueLease(broker.client, journal, broadcast_id, queue_url)
    tally = ReportTally()
    # recipient key -> (input index, attempts before this run): what "settled" is measured by
    outstanding: dict[str, tuple[int, int]] = {}
    read = enqueued = skipped = 0
    interrupted = False
    # The journal as messages name it: a path, or a URL without its password
    # (a Redis message is no place for a database password).
    journal_name = journal.location
    ok = False
    try:
        lease.acquire()
        if on_begin is not None:
            on_begin(run)
        for rows in _batches(messages):
            if stop is not None and stop.is_set():
                interrupted = True
                break
            read += len(rows)
            prepared = [(index, prepare_message(broadcast_id, message)) for index, message in rows]
            admissions = journal.admit(broadcast_id, run, prepared)
            tasks: list[RecipientTask] = []
            for (index, message), admission in zip(prepared, admissions, strict=True):
                status = skip_status(admission, retry_failed)
                if status is not None:
                    outcome = _skipped(broadcast_id, index, message, status, admission.attempts)
                    tally.add(outcome)
                    skipped += 1
                    if on_outcome is not None:
                        on_outcome(outcome)
                    continue
                tasks.append(
                    RecipientTask(
                        broadcast_id=broadcast_id,
                        run=run,
                        index=index,
                        message=message,
                        previous_state=admission.previous,
                        attempts=admission.attempts,
                    )
                )
            if not tasks:
                continue
            # Numbered, enqueued, then counted: a message is never counted before
            # it is on the queue (a kill in between leaves it uncounted instead).
            # Fail closed once the share lapsed: what is queued then may outlive
            # the lease, and with it the mark that stops a local resume.
            first = lease.reserve(len(tasks)) if not lease.lapsed else -1
            if first < 0:
                raise lease.lapsed_error(enqueued)
            queued = 0
            try:
                for position, task in enumerate(tasks):
                    if lease.lapsed:
                        break
                    fields = lease.payload_fields(first + position)
                    broker.enqueue(_message(task, journal_name, fields))
                    queued += 1
                    outstanding[recipient_key(task.message.recipient)] = (
                        task.index,
                        task.attempts,
                    )
                    enqueued += 1
            finally:
                lease.count(first, queued)
            if lease.lapsed:
                raise lease.lapsed_error(enqueued)
        logger.info(
            "broadcast %s: run %d: %d read, %d enqueued on %s",
            broadcast_id,
            run,
            read,
            enqueued,
            QUEUE_NAME,
        )
        if detach:
            ok = True
            return SubmittedBroadcast(
                broadcast_id=broadcast_id,
                run=run,
                read=read,
                enqueued=enqueued,
                skipped=skipped,
                interrupted=interrupted,
            )
        settled = 0
        quiet_since = time.monotonic()
        warned = False
        while outstanding:
            before = settled
            for outcome in _settle(journal, broadcast_id, outstanding):
                tally.add(outcome)
                settled += 1
                if on_outcome is not None:
                    on_outcome(outcome)
            if settled > before:
                quiet_since = time.monotonic()
            elif not warned and time.monotonic() - quiet_since > _IDLE_WARNING_SECONDS:
                warned = True
                _warn_idle(broker, broadcast_id, len(outstanding), queue_url)
            if on_progress is not None:
                on_progress(
                    Progress(
                        read=read,
                        enqueued=enqueued,
                        settled=settled,
                        counts=journal.summary(broadcast_id),
                    )
                )
            if not outstanding:
                break
            if stop is not None and stop.wait(_POLL_SECONDS):
                interrupted = True
                break
            if stop is None:
                time.sleep(_POLL_SECONDS)
        report = tally.report(
            broadcast_id=broadcast_id,
            run=run,
            started_at=started_at,
            finished_at=_dt.datetime.now(_dt.timezone.utc),
            elapsed_seconds=time.perf_counter() - started,
            interrupted=interrupted,
            journal=journal_name,
        )
        if not interrupted:
            journal.end_run(report)
        ok = True
        return SubmittedBroadcast(
            broadcast_id=broadcast_id,
            run=run,
            read=read,
            enqueued=enqueued,
            skipped=skipped,
            report=report,
            interrupted=interrupted,
        )
    finally:
        if not ok and read == 0:
            journal.abandon_run(broadcast_id, run)
        lease.release()
        broker.close()
        # Detached, interrupted or failed: the claim goes, the rows stay as they are,
        # and the workers go on delivering what was enqueued.
        journal.close()


def _warn_idle(broker: Any, broadcast_id: str, waiting: int, queue_url: str) -> None:
    """One warning when nothing settles for a while: usually no worker is running."""
    try:
        now_ms = broker.client.time()[0] * 1000
        seen = broker.client.zrangebyscore(
            f"{broker.namespace}:__heartbeats__", now_ms - broker.heartbeat_timeout, "+inf"
        )
        # The submitter's own enqueuing counts as a heartbeat too: leave it out.
        live = len([one for one in seen if one.decode() != broker.broker_id])
    except Exception:  # noqa: BLE001 - only a hint; the watch goes on
        live = None
    workers = "" if live is None else f" ({live} worker process(es) seen on the queue lately)"
    logger.warning(
        "broadcast %s: no recipient settled in the last %d s, %d still queued%s; is "
        "`broadcastio worker --queue %s` running with this journal?",
        broadcast_id,
        _IDLE_WARNING_SECONDS,
        waiting,
        workers,
        redact_url(queue_url),
    )


def _batches(messages: Iterable[Message]) -> Iterator[list[tuple[int, Message]]]:
    batch: list[tuple[int, Message]] = []
    for index, message in enumerate(messages):
        batch.append((index, message))
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _message(task: RecipientTask, journal: str, lease: dict[str, Any]) -> Any:
    import dramatiq

    return dramatiq.Message(
        queue_name=QUEUE_NAME,
        actor_name=ACTOR_NAME,
        args=({"journal": journal, "task": task.to_dict(), **lease},),
        kwargs={},
        options={},
    )


def _settle(
    journal: Journal, broadcast_id: str, outstanding: dict[str, tuple[int, int]]
) -> Iterator[RecipientOutcome]:
    """The outcomes of outstanding recipients whose rows settled; they leave ``outstanding``."""
    unsettled = 0
    for key in list(outstanding):
        index, attempts = outstanding[key]
        row = journal.row(broadcast_id, key)
        if row is not None and row.state in _STATUS and row.attempts > attempts:
            del outstanding[key]
            yield _outcome(row, index)
            continue
        unsettled += 1
        if unsettled > _LOOKAHEAD:
            return


def _outcome(row: JournalRow, index: int) -> RecipientOutcome:
    """A settled row as the ``RecipientOutcome`` a single-process run would have yielded."""
    if row.state is RecipientState.DELIVERED:
        result = DeliveryResult(
            success=True,
            provider=row.provider,
            message_id=row.message_id,
            providers_tried=() if row.provider is None else (row.provider,),
        )
    else:
        result = DeliveryResult(
            success=False,
            error=DeliveryError(
                code=row.error_code or ErrorCode.UNKNOWN,
                message=row.error_message or "",
            ),
            providers_tried=() if row.provider is None else (row.provider,),
        )
    return RecipientOutcome(
        broadcast_id=row.broadcast_id,
        index=index,
        recipient=row.recipient,
        reference_id=row.reference_id,
        status=_STATUS[row.state],
        result=result,
        attempts=row.attempts,
        contact=row.contact,
    )


def _skipped(
    broadcast_id: str, index: int, message: Message, status: RecipientStatus, attempts: int
) -> RecipientOutcome:
    return RecipientOutcome(
        broadcast_id=broadcast_id,
        index=index,
        recipient=recipient_key(message.recipient),
        reference_id=message.metadata.reference_id,
        status=status,
        attempts=attempts,
        contact=None if isinstance(message.recipient, str) else message.recipient,
    )

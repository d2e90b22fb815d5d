"""``broadcast`` and ``iter_broadcast``: many messages through one orchestrator.

The two functions check their arguments (so misuse is reported before anything
is read or sent), open the journal when given a path, and hand over to a
``BroadcastRun``, which does the work. ``Orchestrator.broadcast`` and
``Orchestrator.iter_broadcast`` delegate here.
"""

from __future__ import annotations

import datetime as _dt
import os
import secrets
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from broadcastio.broadcast.journal import Journal
from broadcastio.broadcast.report import BroadcastReport
from broadcastio.broadcast.run import BroadcastRun, OnResult
from broadcastio.records.checks import check_bool, check_int, check_text
from broadcastio.records.message import Message
from broadcastio.errors.codes import ErrorCode
from broadcastio.errors import OrchestrationError, ValidationError

if TYPE_CHECKING:
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = [
    "JournalArgument",
    "MAX_CONCURRENCY",
    "broadcast",
    "iter_broadcast",
    "new_broadcast_id",
]

JournalArgument = str | os.PathLike[str] | Journal | None

MAX_CONCURRENCY = 256
_MAX_ID_LENGTH = 200


def new_broadcast_id() -> str:
    """A fresh broadcast id: UTC start time plus randomness, e.g. ``20261122T060609Z-9f2c4e1a``.

    Sortable and readable, so a person can tell broadcasts apart in a listing.
    """
    return f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def broadcast(
    orchestrator: Orchestrator,
    messages: Iterable[Message],
    *,
    concurrency: int = 4,
    journal: JournalArgument = None,
    broadcast_id: str | None = None,
    retry_failed: bool = False,
    on_result: OnResult | None = None,
    stop: threading.Event | None = None,
) -> BroadcastReport:
    """Send every message of ``messages`` and return the run's ``BroadcastReport``.

    The arguments are those of ``iter_broadcast``. A stop event ends the run
    early with ``report.interrupted``; Ctrl-C (``KeyboardInterrupt``) waits for
    the sends under way to finish and be journaled, then propagates.
    """
    run = iter_broadcast(
        orchestrator,
        messages,
        concurrency=concurrency,
        journal=journal,
        broadcast_id=broadcast_id,
        retry_failed=retry_failed,
        on_result=on_result,
        stop=stop,
    )
    with run:
        for _ in run:
            pass
    assert run.report is not None
    return run.report


def iter_broadcast(
    orchestrator: Orchestrator,
    messages: Iterable[Message],
    *,
    concurrency: int = 4,
    journal: JournalArgument = None,
    broadcast_id: str | None = None,
    retry_failed: bool = False,
    on_result: OnResult | None = None,
    stop: threading.Event | None = None,
) -> BroadcastRun:
    """A ``BroadcastRun``: iterate it to send ``messages``, one ``RecipientOutcome`` per row.

    ``messages`` is any iterable of ``Message`` (a generator over a huge file
    is fine: it is read lazily). Each message is sent with its
    ``metadata.reference_id`` replaced by ``reference_id_for(broadcast_id,
    recipient)``. ``concurrency`` threads send at once (1 to 256).

    ``journal`` is a path (opened, and closed when the run ends) or an open
    ``Journal`` (left open). With a journal, calling again with the same
    ``broadcast_id`` resumes: delivered recipients are skipped, pending and
    in-flight ones are sent (with their original reference id, so a provider that
    deduplicates replays instead of sending twice), and failed or ambiguous ones
    are sent again only with ``retry_failed=True``. Without ``broadcast_id`` a
    new one is made (``run.broadcast_id``). A recipient repeated in the input is
    sent once. ``on_result(outcome)`` is called for every outcome, in the
    consuming thread; what it raises is logged and ignored. Setting ``stop``
    ends the run early, as cleanly as the end of the input.

    Arguments are checked here, before anything is read or sent;
    ``ValidationError`` names the bad one. A non-``Message`` item is reported
    (with its index) when the run reaches it, after the sends under way finish.
    """
    from broadcastio.engine.orchestrator import Orchestrator

    if not isinstance(orchestrator, Orchestrator):
        raise ValidationError(f"broadcast needs an Orchestrator, got {type(orchestrator).__name__}")
    if orchestrator.closed:
        # Refused here, not row by row: every recipient would be journaled as failed.
        raise OrchestrationError(
            "this orchestrator was closed; build a new one to broadcast",
            code=ErrorCode.NO_PROVIDERS,
            details={"closed": True},
        )
    check_int("concurrency", concurrency, minimum=1)
    if concurrency > MAX_CONCURRENCY:
        raise ValidationError(
            f"concurrency must be <= {MAX_CONCURRENCY}, got {concurrency}: each unit is a "
            "thread, and a provider gains nothing from more parallel sends than that"
        )
    if broadcast_id is None:
        broadcast_id = new_broadcast_id()
    else:
        _check_broadcast_id(broadcast_id)
    check_bool("retry_failed", retry_failed)
    if on_result is not None and not callable(on_result):
        raise ValidationError(f"on_result must be callable, got {type(on_result).__name__}")
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise ValidationError(f"stop must be a threading.Event, got {type(stop).__name__}")
    if isinstance(messages, (str, bytes, Message)) or not isinstance(messages, Iterable):
        raise ValidationError(
            f"messages must be an iterable of Message (a list, a generator…), "
            f"got {type(messages).__name__}"
        )
    if journal is None or isinstance(journal, Journal):
        opened, owned = journal, False
    else:
        opened, owned = Journal(journal), True
    return BroadcastRun(
        orchestrator,
        iter(messages),
        concurrency=concurrency,
        journal=opened,
        owns_journal=owned,
        broadcast_id=broadcast_id,
        retry_failed=retry_failed,
        on_result=on_result,
        stop=stop,
    )


def _check_broadcast_id(broadcast_id: Any) -> None:
    check_text("broadcast_id", broadcast_id)
    if len(broadcast_id) > _MAX_ID_LENGTH or broadcast_id != broadcast_id.strip():
        raise ValidationError(
            f"broadcast_id must be at most {_MAX_ID_LENGTH} characters without surrounding "
            f"blanks, got {broadcast_id!r}"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in broadcast_id):
        raise ValidationError(f"broadcast_id must not contain control characters: {broadcast_id!r}")

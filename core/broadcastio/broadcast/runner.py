"""``broadcast`` and ``iter_broadcast``: many messages through one orchestrator.

The two functions take the run's settings as one ``BroadcastOptions`` record or
as its keywords (the record is then built from them, with the same checks), so
misuse is reported before anything is read or sent. They open the journal when
given a path, and hand over to a ``BroadcastRun``, which does the work.
``Orchestrator.broadcast`` and ``Orchestrator.iter_broadcast`` delegate here.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from broadcastio.broadcast.journal import Journal
from broadcastio.broadcast.options import (
    MAX_CONCURRENCY,
    BroadcastOptions,
    JournalArgument,
    options_from,
)
from broadcastio.broadcast.report import BroadcastReport
from broadcastio.broadcast.run import BroadcastRun
from broadcastio.errors import OrchestrationError, ValidationError
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.message import Message

if TYPE_CHECKING:
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = [
    "JournalArgument",
    "MAX_CONCURRENCY",
    "broadcast",
    "iter_broadcast",
    "new_broadcast_id",
]


def new_broadcast_id() -> str:
    """A fresh broadcast id: UTC start time plus randomness, e.g. ``20261122T060609Z-9f2c4e1a``.

    Sortable and readable, so a person can tell broadcasts apart in a listing.
    """
    return f"{_dt.datetime.now(_dt.timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def broadcast(
    orchestrator: Orchestrator,
    messages: Iterable[Message],
    options: BroadcastOptions | None = None,
    **keywords: Any,
) -> BroadcastReport:
    """Send every message of ``messages`` and return the run's ``BroadcastReport``.

    The arguments are those of ``iter_broadcast``. A stop event ends the run
    early with ``report.interrupted``; Ctrl-C (``KeyboardInterrupt``) waits for
    the sends under way to finish and be journaled, then propagates.
    """
    run = iter_broadcast(orchestrator, messages, options_from(options, keywords))
    with run:
        return run._run_to_end()  # noqa: SLF001 - the run's own package


def iter_broadcast(
    orchestrator: Orchestrator,
    messages: Iterable[Message],
    options: BroadcastOptions | None = None,
    **keywords: Any,
) -> BroadcastRun:
    """A ``BroadcastRun``: iterate it to send ``messages``, one ``RecipientOutcome`` per row.

    ``messages`` is any iterable of ``Message`` (a generator over a huge file
    is fine: it is read lazily). Each message is sent with its
    ``metadata.reference_id`` replaced by ``reference_id_for(broadcast_id,
    recipient)``. How the run goes is ``options``, a ``BroadcastOptions``, or
    its fields as keywords (``concurrency=8, journal="b.sqlite"``), not both.

    With a journal, calling again with the same ``broadcast_id`` resumes:
    delivered recipients are skipped, pending and in-flight ones are sent (with
    their original reference id, so a provider that deduplicates replays
    instead of sending twice), and failed or ambiguous ones are sent again only
    with ``retry_failed=True``. Without ``broadcast_id`` a new one is made
    (``run.broadcast_id``). A recipient repeated in the input is sent once.

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
    options = options_from(options, keywords)
    if isinstance(messages, (str, bytes, Message)) or not isinstance(messages, Iterable):
        raise ValidationError(
            f"messages must be an iterable of Message (a list, a generator…), "
            f"got {type(messages).__name__}"
        )
    journal = options.journal
    if journal is None or isinstance(journal, Journal):
        opened, owned = journal, False
    else:
        opened, owned = Journal(journal), True
    broadcast_id = new_broadcast_id() if options.broadcast_id is None else options.broadcast_id
    # The record the run itself uses: its id decided, its journal open.
    resolved = attrs.evolve(options, broadcast_id=broadcast_id, journal=opened)
    return BroadcastRun(orchestrator, iter(messages), resolved, owns_journal=owned)

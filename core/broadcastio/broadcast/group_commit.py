"""``GroupCommit``: the outcomes of several sends committed to the journal in one transaction.

A journaled broadcast used to commit each outcome on its own, from the thread
that made the send: one self-committing statement per recipient, each taking
the journal's lock, so the sending threads spent much of their time queued on
that lock. Then the sending threads grouped outcomes among themselves (a
shared queue of outcomes, a commit lock, a flusher thread): fewer commits, but
every group still meant the sending threads and the consuming thread taking
the journal's lock and the interpreter from each other, about one thread
switch per row.

Now only the thread consuming the run writes to the journal. The sending
threads post each outcome back uncommitted; the consuming thread takes every
outcome that has arrived, commits them all in one transaction (``commit``),
and only then yields them. The journal's lock is never contended within a run,
no thread exists only to flush, and while the consuming thread waits on
SQLite (which lets go of the interpreter) the sending threads keep sending.

Until an outcome is committed its row is ``in_flight``: a crash in between
leaves it so, and a resume sends it again under the same reference id (see
docs/broadcasts.md, "Durability"). How many rows that can concern is bounded
by the run's window (``2 * concurrency`` rows between "read" and "yielded").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from broadcastio.broadcast.states import recorded_provider
from broadcastio.broadcast.task import RecipientOutcome, provider_address_kind

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["GroupCommit"]


class GroupCommit:
    """Commits the sent outcomes of one broadcast run, a group per transaction.

    Used by the one thread that consumes the run (it is not thread-safe, and
    needs not be). After the journal fails once, every later ``commit``
    raises that same error: the failed transaction held other outcomes too,
    and none of them may pass for journaled.
    """

    def __init__(self, orchestrator: Orchestrator, journal: Journal) -> None:
        self._orchestrator = orchestrator
        self._journal = journal
        self._failure: Exception | None = None
        # The address kind of each provider that sent, looked up once per run.
        self._address_kinds: dict[str | None, str | None] = {}
        # A chain whose providers all take any recipient (address_kind None, as
        # the dummy) records no address kind whoever sent: no look per outcome.
        self._no_kinds = all(
            getattr(provider, "address_kind", None) is None for provider in orchestrator.providers
        )

    def commit(self, outcomes: Sequence[RecipientOutcome]) -> None:
        """Commit the sent ones among ``outcomes`` now, in one transaction."""
        if self._failure is not None:
            raise self._failure
        sent = [outcome for outcome in outcomes if outcome.result is not None]
        if not sent:
            return
        address_kinds: list[str | None]
        if self._no_kinds:
            address_kinds = [None] * len(sent)
        else:
            kinds = self._address_kinds
            address_kinds = []
            for outcome in sent:
                assert outcome.result is not None
                provider = recorded_provider(outcome.result)
                if provider not in kinds:
                    kinds[provider] = provider_address_kind(self._orchestrator, provider)
                address_kinds.append(kinds[provider])
        try:
            # One run's outcomes: one broadcast id.
            self._journal.record_outcomes(sent[0].broadcast_id, sent, address_kinds)
        except Exception as error:
            # Not a KeyboardInterrupt: that says nothing about the journal.
            self._failure = error
            raise

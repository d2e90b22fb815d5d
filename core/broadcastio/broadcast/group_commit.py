"""``GroupCommit``: the outcomes of several sends committed to the journal in one transaction.

A journaled broadcast used to commit each outcome on its own, from the thread
that made the send: one self-committing statement per recipient, each taking
the journal's lock, so the sending threads spent much of their time queued on
that lock. Here a sending thread hands its outcome over (``add``) and goes on
to its next send; whichever thread holds the commit lock commits every outcome
handed over so far in one transaction, then posts them to the consuming
thread. A thread that finds the lock taken does not wait: the holder looks
for more outcomes after each transaction, and again after releasing the lock,
so no outcome is left behind. An outcome is posted only once it is committed,
so the consuming thread (and whoever iterates the run) only ever sees
journaled outcomes, as with a commit per send; under load one transaction
carries many outcomes.

Until an outcome is committed its row is ``in_flight``: a crash in between
leaves it so, and a resume sends it again under the same reference id (see
docs/broadcasts.md, "What a crash can lose").
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from broadcastio.broadcast.states import recorded_provider
from broadcastio.broadcast.task import RecipientOutcome, provider_address_kind

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["GroupCommit"]


class GroupCommit:
    """Commits the sent outcomes of one broadcast run, several per transaction, for any thread.

    ``post`` receives each outcome once it is committed (the worker pool's
    results queue). After the journal fails once, every later ``add`` and
    ``commit`` raises that same error: the failed transaction held other
    threads' outcomes too, and none of them may pass for journaled.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        journal: Journal,
        post: Callable[[RecipientOutcome], object] | None = None,
    ) -> None:
        self._orchestrator = orchestrator
        self._journal = journal
        self._post = post
        self._pending: collections.deque[RecipientOutcome] = collections.deque()
        self._lock = threading.Lock()
        self._failure: Exception | None = None
        # The address kind of each provider that sent, looked up once per run.
        self._address_kinds: dict[str | None, str | None] = {}

    def add(self, outcome: RecipientOutcome) -> None:
        """Hand ``outcome`` over: it is committed, then posted, by this thread or another."""
        if self._failure is not None:
            raise self._failure
        self._pending.append(outcome)
        pending, lock = self._pending, self._lock
        while pending and lock.acquire(blocking=False):
            try:
                while pending:
                    # popleft is atomic: other threads may append meanwhile.
                    batch = [pending.popleft() for _ in range(len(pending))]
                    self._write(batch)
                    if self._post is not None:
                        for committed in batch:
                            self._post(committed)
            finally:
                lock.release()
            # An outcome added between the last look and the release found the
            # lock taken and left it to this thread: the loop looks once more.

    def commit(self, outcomes: Sequence[RecipientOutcome]) -> None:
        """Commit the sent ones among ``outcomes`` now, in one transaction (nothing is posted)."""
        sent = [outcome for outcome in outcomes if outcome.result is not None]
        if not sent:
            return
        with self._lock:
            if self._failure is not None:
                raise self._failure
            self._write(sent)

    def _write(self, batch: list[RecipientOutcome]) -> None:
        try:
            # One run's outcomes: one broadcast id.
            self._journal.record_outcomes(
                batch[0].broadcast_id, batch, [self._address_kind(o) for o in batch]
            )
        except Exception as error:
            # Not a KeyboardInterrupt: that says nothing about the journal.
            self._failure = error
            raise

    def _address_kind(self, outcome: RecipientOutcome) -> str | None:
        assert outcome.result is not None
        provider = recorded_provider(outcome.result)
        kinds = self._address_kinds
        if provider not in kinds:
            kinds[provider] = provider_address_kind(self._orchestrator, provider)
        return kinds[provider]

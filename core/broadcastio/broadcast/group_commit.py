"""``GroupCommit``: the outcomes of several sends committed to the journal in one transaction.

A journaled broadcast used to commit each outcome on its own, from the thread
that made the send: one self-committing statement per recipient, each taking
the journal's lock, so the sending threads spent much of their time queued on
that lock. Here a sending thread hands its outcome over (``add``) and goes on
to its next send. The outcomes waiting are committed together, in one
transaction, when a sending thread has no task left to take, when
``MAX_GROUP`` wait, or once the oldest has waited ``MAX_DELAY`` (a small
flusher thread sees to that when every sending thread is stuck in a slow
send); whichever thread commits then posts them to the consuming thread. A
thread that finds the commit lock taken does not wait: the holder looks for
more outcomes after each transaction, and again after releasing the lock, so
no outcome is left behind. An outcome is posted only once it is committed, so
the consuming thread (and whoever iterates the run) only ever sees journaled
outcomes, as with a commit per send.

Until an outcome is committed its row is ``in_flight``: a crash in between
leaves it so, and a resume sends it again under the same reference id (see
docs/broadcasts.md, "What a crash can lose").
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from broadcastio.broadcast.states import recorded_provider
from broadcastio.broadcast.task import RecipientOutcome, provider_address_kind

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["GroupCommit", "MAX_DELAY", "MAX_GROUP"]

# The most outcomes one transaction takes, and the longest an outcome waits for
# others to share its transaction while the threads are busy sending.
MAX_GROUP = 64
MAX_DELAY = 0.002


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
        self._oldest = 0.0  # when the oldest pending outcome was handed over (monotonic)
        self._waiting = threading.Event()  # set when outcomes wait: wakes the flusher
        self._stopped = False
        # The address kind of each provider that sent, looked up once per run.
        self._address_kinds: dict[str | None, str | None] = {}

    def add(self, outcome: RecipientOutcome) -> None:
        """Hand ``outcome`` over: the next ``flush``, by this thread or another, commits it.

        It is flushed at once when ``MAX_GROUP`` outcomes wait or the oldest
        has waited ``MAX_DELAY`` seconds; otherwise the thread that handed it
        over flushes before it waits for its next task (``WorkerPool``), so
        outcomes share a transaction while tasks keep the threads busy, and
        none waits for a commit while a thread is idle. When every thread is
        busy in a slow send, the flusher thread (``start_flusher``) commits
        what waits, ``MAX_DELAY`` after it was handed over.
        """
        if self._failure is not None:
            raise self._failure
        pending = self._pending
        if not pending:
            self._oldest = time.monotonic()
            self._waiting.set()
        pending.append(outcome)
        if len(pending) >= MAX_GROUP:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        """``flush`` if an outcome has waited ``MAX_DELAY`` seconds."""
        if self._pending and time.monotonic() - self._oldest >= MAX_DELAY:
            self.flush()

    def flush(self, *, wait: bool = False) -> None:
        """Commit, then post, every outcome handed over so far.

        Without ``wait`` it returns at once when another thread is committing
        (that thread then commits these too, before it lets go of the lock).
        With ``wait`` it returns only once every outcome handed over before the
        call is committed and posted: what a thread calls before it ends.
        """
        if self._failure is not None:
            raise self._failure
        pending, lock = self._pending, self._lock
        while pending and lock.acquire(blocking=wait):
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

    def start_flusher(self) -> None:
        """Start the daemon thread that commits outcomes no sending thread got to."""
        thread = threading.Thread(target=self._flusher, name="broadcastio-commit", daemon=True)
        thread.start()

    def stop_flusher(self) -> None:
        """Let the flusher thread end (what it has not committed, ``flush(wait=True)`` does)."""
        self._stopped = True
        self._waiting.set()

    def _flusher(self) -> None:
        waiting = self._waiting
        while not self._stopped:
            waiting.wait()
            waiting.clear()
            # Give the sending threads MAX_DELAY to commit it themselves, then look.
            time.sleep(MAX_DELAY)
            try:
                self.flush_if_due()
            except Exception:  # noqa: BLE001 - recorded; the sending threads raise it
                return
            if self._pending:
                waiting.set()  # still waiting (too young, or another thread is committing)

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

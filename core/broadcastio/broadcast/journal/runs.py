"""Runs of a broadcast in the journal: claimed, checked, counted, ended or forgotten.

A mixin of ``Journal``, kept apart because a run's lifecycle has rules of its
own that the row-by-row writing does not: the claim on the broadcast id (at
most one live run per id, see ``claim``), the integrity check a resume
makes before trusting any row, and undoing a run that was refused before it
journaled anything.
"""

from __future__ import annotations

import json
import re

from broadcastio.broadcast.journal import sql
from broadcastio.broadcast.journal.backend import JournalStorage, RunClaimLike
from broadcastio.broadcast.journal.errors import JournalError, JournalProblem
from broadcastio.broadcast.journal.file import utc_now_text
from broadcastio.broadcast.report import BroadcastReport
from broadcastio.broadcast.states import RecipientState
from broadcastio.broadcast.task import reference_id_for

__all__ = ["JournalRuns"]

# What message_digest writes: 12 bytes as lower-case hex.
_DIGEST = re.compile(r"[0-9a-f]{24}")


class JournalRuns:
    """``begin_run``, ``end_run`` and ``abandon_run``, and the claims they hold."""

    _file: JournalStorage
    read_only: bool
    # broadcast id -> the claim this object holds on it
    _claims: dict[str, RunClaimLike]
    # broadcast id -> (its run number, the updated_at that begin_run replaced)
    _started: dict[str, tuple[int, str]]

    def begin_run(self, broadcast_id: str) -> int:
        """Record that a run of ``broadcast_id`` starts; its number (1 for the first).

        First the run claims the broadcast id: while this journal object holds
        the claim (until ``end_run``, ``abandon_run`` or ``close``), another
        ``begin_run`` of the same id on the same file, from any process, raises
        ``JournalError`` (``IN_USE``). A claim dies with its process, so a
        killed run never blocks its resume. Then SQLite checks the whole file
        (``integrity_check``), and, when the id is already in the journal (this
        run is a resume), every row of the broadcast is checked too: a damaged
        journal raises ``JournalError`` (``DAMAGED``), since a run trusts the
        journal to decide whom not to send to again.
        """
        if self.read_only:
            raise JournalError(
                self._file.location,
                JournalProblem.READ_ONLY,
                detail="it was opened with read_only=True",
                broadcast_id=broadcast_id,
                advice="",
            )
        claim = self._claims.get(broadcast_id)
        new_claim = claim is None
        if claim is None:
            claim = self._file.claim_run(broadcast_id)
        try:
            file = self._file
            with file.locked(broadcast_id) as connection:
                file.check_in_place(broadcast_id)
                # Every run, not only resumes: a damaged index on broadcast ids
                # can hide an existing broadcast, and the "new" run would then
                # send everyone again.
                file.integrity_check_locked(broadcast_id)
                if file.known_locked(broadcast_id):
                    self._check_rows_locked(broadcast_id)
                key = file.key_locked(broadcast_id, create=True)
                (_, replaced) = connection.execute(sql.SELECT_RUNS, (key,)).fetchone()
                (runs,) = connection.execute(sql.START_RUN, (utc_now_text(), key)).fetchone()
        except BaseException:
            if new_claim:
                claim.release()
            raise
        self._claims[broadcast_id] = claim
        self._started[broadcast_id] = (int(runs), str(replaced))
        return int(runs)

    def _check_rows_locked(self, broadcast_id: str) -> None:
        """Damage SQLite's check cannot see: a row whose values changed but stayed well-formed.

        Each row's reference id is derived from the broadcast id and the
        recipient (``reference_id_for``), so it doubles as a checksum of the
        recipient: a changed recipient no longer matches the input, and the
        resume would take the real one for new and send it again. A state
        outside the vocabulary is damage too, and so are a message fingerprint
        that is not one and a row whose broadcast key names no broadcast.
        """
        file = self._file
        key = file.key_locked(broadcast_id, create=False)
        (orphans,) = file.connection.execute(sql.COUNT_ORPHANS).fetchone()
        if orphans:
            # A changed broadcast key moves a row out of its broadcast: the
            # resume would not find it and would send that recipient again.
            raise JournalError(
                file.location,
                JournalProblem.DAMAGED,
                detail=f"{orphans} row(s) belong to no broadcast",
                broadcast_id=broadcast_id,
            )
        known = {state.value for state in RecipientState}
        rows = file.connection.execute(sql.SELECT_CHECKED, (key,))
        for recipient, reference_id, digest, state in rows:
            if state not in known:
                problem = f"the row of {recipient!r} has an unknown state {state!r}"
            elif reference_id != reference_id_for(broadcast_id, recipient):
                problem = f"the row of {recipient!r} does not match its reference id"
            elif not _DIGEST.fullmatch(digest):
                # Not what message_digest writes: report damage, not "a different message".
                problem = f"the row of {recipient!r} has a malformed message fingerprint"
            else:
                continue
            raise JournalError(
                file.location,
                JournalProblem.DAMAGED,
                detail=f"broadcast {broadcast_id!r}: {problem}",
                broadcast_id=broadcast_id,
            )

    def abandon_run(self, broadcast_id: str, run: int) -> None:
        """Forget run ``run``, refused before it journaled any row, and release its claim.

        A resume refused at its first rows (a different message for a journaled
        recipient) did nothing: it must not count as a run nor replace the last
        run's report. The run count and ``updated_at`` go back to what they were;
        a broadcast that only this run had created disappears.
        """
        started = self._started.pop(broadcast_id, None)
        try:
            if started is None or started[0] != run:
                return
            file = self._file
            with file.locked(broadcast_id) as connection:
                key = file.key_locked(broadcast_id, create=False)
                with file.transaction_locked():
                    connection.execute(sql.UNDO_RUN, (started[1], key, run))
                    deleted = connection.execute(sql.DELETE_UNUSED_BROADCAST, (key, key)).rowcount
                if deleted:
                    file.forget_key_locked(broadcast_id)
        finally:
            self._release(broadcast_id)

    def _release(self, broadcast_id: str) -> None:
        claim = self._claims.pop(broadcast_id, None)
        if claim is not None:
            claim.release()

    def end_run(self, report: BroadcastReport) -> None:
        """Keep ``report`` as its broadcast's last report, and release the run's claim.

        Raises ``JournalError`` (``GONE``) when the file was deleted or replaced
        during the run: the report, and every row of the run, went with it.
        """
        broadcast_id = report.broadcast_id
        text = json.dumps(report.to_dict(), separators=(",", ":"))
        file = self._file
        try:
            file.check_in_place(broadcast_id)
            with file.locked(broadcast_id) as connection:
                key = file.key_locked(broadcast_id, create=True)
                connection.execute(sql.END_RUN, (text, utc_now_text(), key))
        finally:
            self._started.pop(broadcast_id, None)
            self._release(broadcast_id)

    def _release_all_claims(self) -> None:
        for broadcast_id in list(self._claims):
            self._release(broadcast_id)

"""``Journal``: every recipient of every broadcast, and its state, in one SQLite file.

One connection, guarded by one lock, is shared by the thread reading the input
and the threads sending; SQLite serializes writers anyway. A commit in WAL mode
with ``synchronous=NORMAL`` is an append to the WAL file without an fsync
(about 15 us on the reference machine), so commits are not what costs: each
statement releases the GIL, and on a multi-core machine every such release can
hand the interpreter to another thread and back, which costs more than the
commit. Hence the shape of the writing methods: ``admit`` and ``mark_in_flight``
take a batch of rows and use a few multi-row statements for the whole batch
(``pending`` inserts are batched that way), and the one write a sending thread
makes per recipient, its outcome, is a single self-committing statement.

Durability (``durable=False``, the default: WAL + ``synchronous=NORMAL``): a
committed transaction survives the process being killed, SIGKILL included,
because it is already in the WAL file in the operating system's cache. It does
*not* necessarily survive an operating-system crash or a power cut: the WAL is
fsynced only at checkpoints, so the last transactions before the cut may be
lost (the database stays consistent; recent rows fall back to an earlier
state). ``durable=True`` sets ``synchronous=FULL``, an fsync per commit: slower,
but then a committed transition survives power loss too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from broadcastio.broadcast.journal import sql
from broadcastio.broadcast.journal.backend import JournalConnection, JournalStorage
from broadcastio.broadcast.journal.file import utc_now_text
from broadcastio.broadcast.journal.location import open_storage
from broadcastio.broadcast.journal.queued import JournalQueuedLeases
from broadcastio.broadcast.journal.reading import JournalReading
from broadcastio.broadcast.journal.records import Admission
from broadcastio.broadcast.journal.runs import JournalRuns
from broadcastio.broadcast.states import RecipientState, recorded_provider
from broadcastio.broadcast.task import (
    STATE_OF_SENT_STATUS,
    PreparedRow,
    RecipientOutcome,
    RecipientTask,
    message_digest,
    reference_id_for,
)
from broadcastio.records.checks import check_bool, check_number
from broadcastio.records.contact import Contact, recipient_key
from broadcastio.records.message import Message
from broadcastio.records.result import DeliveryResult
from broadcastio.errors import ValidationError

__all__ = ["Journal"]

# A day: long enough for any writer, short enough to stay a sane number of seconds.
_MAX_BUSY_TIMEOUT = 86_400.0
# The parameters of one row of ``sql.claim``.
_CLAIM_PARAMETERS = 10


def _claim_locked(
    connection: JournalConnection,
    key: int,
    run: int,
    now: str,
    pending: list[tuple[Any, ...]],
    wanted: list[int],
) -> list[tuple[str]]:
    """Claim the rows ``wanted`` of ``pending`` (as ``admit_and_claim`` builds them).

    One statement per ``sql.MAX_ROWS_PER_STATEMENT`` rows, each its own
    transaction, committed when it returns; the recipients claimed.
    """
    found: list[tuple[str]] = []
    for start in range(0, len(wanted), sql.MAX_ROWS_PER_STATEMENT):
        values: list[Any] = []
        for n in wanted[start : start + sql.MAX_ROWS_PER_STATEMENT]:
            recipient, index, reference_id, digest, contact_id, addresses = pending[n]
            values += (
                key, recipient, index, reference_id, digest, run, now, now,
                contact_id, addresses,
            )  # fmt: skip
        query = sql.claim(len(values) // _CLAIM_PARAMETERS)
        found += connection.execute(query, values).fetchall()
    return found


def _contact_values(recipient: str | Contact) -> tuple[str | None, str | None]:
    """The ``contact_id`` and ``addresses`` columns for ``recipient`` (both NULL for a string).

    The addresses are compact JSON with sorted kinds, as ``Contact`` keeps
    them, and not ASCII-escaped: the journal stores text as it was given.
    """
    if isinstance(recipient, str):
        return None, None
    return recipient.id, json.dumps(recipient.addresses, separators=(",", ":"), ensure_ascii=False)


# How many rows a run admits between two looks at whether the journal's path
# still names its file: a stat() per batch cost as much as a small batch's
# Python; a run that loses its file stops within this many rows (and its end
# is refused: ``end_run`` always looks).
_ROWS_PER_PLACE_CHECK = 64

# The journal's state text for each status of a sent row: ``state_of_outcome``'s, looked up once.
_STATE_TEXT_OF_STATUS = {status: state.value for status, state in STATE_OF_SENT_STATUS.items()}


def _address_used(recipient: str | Contact, kind: str | None) -> str | None:
    """The address a provider of address kind ``kind`` was handed for ``recipient``.

    A plain recipient reaches every provider as it is. A contact gives its
    address of that kind; a provider without a kind gets the contact's key,
    which is no address, so ``None``.
    """
    if isinstance(recipient, str):
        return recipient
    return None if kind is None else recipient.address(kind)


def _prepared(broadcast_id: str, row: tuple[int, Message]) -> PreparedRow:
    """A row ``(index, message)`` with the values the journal derives from it."""
    index, message = row
    recipient = recipient_key(message.recipient)
    reference_id = reference_id_for(broadcast_id, recipient)
    return PreparedRow(index, message, recipient, reference_id, message_digest(message))


class Journal(JournalRuns, JournalReading, JournalQueuedLeases):
    """A journal of broadcasts, in an SQLite file or a PostgreSQL database; thread-safe.

    ``path`` says where: a file path or ``sqlite:///PATH`` is an SQLite file
    (the default backend), ``postgresql://USER:PASSWORD@HOST/DB`` a PostgreSQL
    database (the ``postgres`` extra; see ``postgres`` for what differs, and
    ``location`` for the parsing). The rest of this text says "file"; for a
    database read "database". ``path`` is the journal file, created (with its
    tables) on first use unless ``create=False``: a typo in the path is then
    an error, not a new empty journal. ``read_only=True`` (which implies
    ``create=False``) is what an inspection command wants: SQLite opens the
    file read-only (PostgreSQL a read-only session), so nothing done through
    this object can change it, and the writing methods raise. See the
    module docstring for what ``durable`` buys. ``busy_timeout`` is how many
    seconds to wait for another process's write lock before giving up with a
    ``JournalError`` (``BUSY``). Use it as a context manager, or call ``close()``.

    The writing methods (``begin_run``, ``admit``, ``mark_in_flight``,
    ``record_outcome``, ``end_run``, ``abandon_run``) are what ``broadcast`` and
    ``deliver_recipient`` use. The reading methods (``broadcasts``, ``info``,
    ``summary``, ``rows``, ``row``, ``export_csv``) are for people and tools
    looking at a journal, possibly while another process writes to it; they raise
    ``ValidationError`` for a broadcast id the journal does not know.

    Any method raises ``JournalError`` (a ``ValidationError``) when the file
    itself is the problem: missing, read-only, full, damaged, locked for longer
    than ``busy_timeout``, deleted while in use, or claimed by another run.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durable: bool = False,
        create: bool = True,
        read_only: bool = False,
        busy_timeout: float = 30.0,
    ) -> None:
        self.durable = check_bool("durable", durable)
        self.read_only = check_bool("read_only", read_only)
        check_number("busy_timeout", busy_timeout, minimum=0, maximum=_MAX_BUSY_TIMEOUT)
        self._file: JournalStorage = open_storage(
            path,
            durable=durable,
            create=check_bool("create", create),
            read_only=read_only,
            busy_timeout=busy_timeout,
        )
        self._claims = {}
        self._started = {}
        # Rows admitted since the file was last found in place (``admit_and_claim``).
        self._rows_unchecked = _ROWS_PER_PLACE_CHECK

    @property
    def path(self) -> Path | None:
        """Where the journal file is; ``None`` for a journal on a server (see ``location``)."""
        return self._file.path

    @property
    def location(self) -> str:
        """The journal's file path, or its URL with the password hidden: how messages name it."""
        return self._file.location

    # -- writing -------------------------------------------------------------------------

    def admit(
        self, broadcast_id: str, run: int, rows: Sequence[tuple[int, Message]]
    ) -> list[Admission]:
        """Record input rows ``(index, message)`` as read by run ``run``; one ``Admission`` each.

        New recipients are inserted as ``pending``, with the contact's id and
        addresses beside the key (a known row takes a contact only when it is
        claimed for a send, ``mark_in_flight``). Known ones are marked as read
        by this run, so a second occurrence in the same input (in this batch or a
        later one) comes back as a duplicate. A batch is one transaction of a few
        multi-row statements, however many rows it has. A row's reference id is
        always ``reference_id_for(broadcast_id, recipient)``, the one the
        broadcast sends it with: a resume checks every row against it.

        Raises ``ValidationError`` (and records nothing of the batch) when an
        earlier run journaled a different message (``message_digest``) for a
        recipient: one broadcast id stands for one set of messages, and the
        provider's idempotency key would map the new content onto the old send.
        """
        prepared = [_prepared(broadcast_id, row) for row in rows]
        return self.admit_prepared(broadcast_id, run, prepared)

    def admit_prepared(
        self, broadcast_id: str, run: int, rows: Sequence[PreparedRow]
    ) -> list[Admission]:
        """``admit`` for rows whose key, reference id and digest are computed already.

        What a run uses: ``Admitter`` derives them once per row
        (``prepare_row``) and the journal takes them as they are, so the
        caller must have derived them as ``admit`` does.
        """
        admissions, _ = self.admit_and_claim(broadcast_id, run, rows, None)
        return admissions

    def admit_and_claim(
        self,
        broadcast_id: str,
        run: int,
        rows: Sequence[PreparedRow],
        claim_if: Callable[[Admission], bool] | None,
    ) -> tuple[list[Admission], list[bool]]:
        """``admit_prepared``, then ``claim_prepared`` for the rows ``claim_if`` accepts.

        What a run does with each batch it reads: the admissions, and for each
        row whether it is now claimed ``in_flight`` (``False``: ``claim_if``
        refused its admission, or the row turned ``delivered`` meanwhile; with
        ``claim_if=None`` nothing is claimed). The transactions are those of
        the two methods, the admission's committed before the claim's and the
        claim committed before this returns, so before any of the rows is sent;
        what is saved is per-batch Python: one hold of the lock (no committing
        thread slips in between), one timestamp, and each row's values built
        once for both statements.
        """
        if not rows:
            return [], []
        file = self._file
        # A journal deleted under the run stops it here: looked at for a run's
        # first batch, then once per _ROWS_PER_PLACE_CHECK rows (a system call).
        if self._rows_unchecked >= _ROWS_PER_PLACE_CHECK:
            file.check_in_place(broadcast_id)
            self._rows_unchecked = 0
        self._rows_unchecked += len(rows)
        now = utc_now_text()
        admissions: list[Admission] = []
        with file.locked(broadcast_id) as connection:
            key = file.key_locked(broadcast_id, create=True)
            # Per row, what the two statements need (``pending``), and for a batch
            # that fits one statement (every batch a run admits) the parameters
            # of both, built in this one pass: ``sql.insert_pending``'s, and the
            # claim's, which adds ``sent_at``, for when every row is claimed.
            one_statement = len(rows) <= sql.MAX_ROWS_PER_STATEMENT
            pending: list[tuple[Any, ...]] = []
            inserting: list[Any] = []
            claiming: list[Any] = []
            for index, message, recipient, reference_id, digest in rows:
                contact = message.recipient
                if type(contact) is str:
                    contact_id = addresses = None
                else:
                    contact_id, addresses = _contact_values(contact)
                pending.append((recipient, index, reference_id, digest, contact_id, addresses))
                if one_statement:
                    inserting += (
                        key, recipient, index, reference_id, digest, run, now,
                        contact_id, addresses,
                    )  # fmt: skip
                    claiming += (
                        key, recipient, index, reference_id, digest, run, now, now,
                        contact_id, addresses,
                    )  # fmt: skip
            with file.transaction_locked() as transaction:
                if one_statement:
                    admissions += self._admit_locked(
                        transaction, broadcast_id, key, run, pending, now, inserting
                    )
                else:
                    for start in range(0, len(pending), sql.MAX_ROWS_PER_STATEMENT):
                        chunk = pending[start : start + sql.MAX_ROWS_PER_STATEMENT]
                        admissions += self._admit_locked(
                            transaction, broadcast_id, key, run, chunk, now
                        )
            if claim_if is None:
                return admissions, [False] * len(rows)
            # Nearly every row of a first run is NEW: asked about once per batch.
            new = Admission.NEW
            claim_new = claim_if(new)
            wanted = [
                n
                for n, admission in enumerate(admissions)
                if (claim_new if admission is new else claim_if(admission))
            ]
            found: list[tuple[str]]
            if one_statement and len(wanted) == len(rows):
                # Every row wanted, in order: the claim built above, one
                # statement, so one transaction, committed when it returns.
                found = connection.execute(sql.claim(len(rows)), claiming).fetchall()
            else:
                found = _claim_locked(connection, key, run, now, pending, wanted)
        sending = [False] * len(rows)
        if len(found) == len(wanted) and admissions.count(new) == len(admissions):
            # Every row NEW, so no recipient twice; the claim returns each row it
            # took once, and only rows it was given: as many as were wanted
            # means every one (the common case).
            for n in wanted:
                sending[n] = True
            return admissions, sending
        claimed = {recipient for (recipient,) in found}
        for n in wanted:
            sending[n] = pending[n][0] in claimed
        return admissions, sending

    def _admit_locked(
        self,
        connection: JournalConnection,
        broadcast_id: str,
        key: int,
        run: int,
        chunk: list[tuple[Any, ...]],
        now: str,
        values: list[Any] | None = None,
    ) -> list[Admission]:
        """Admit ``chunk`` (rows as ``admit_and_claim`` builds them) inside a transaction.

        ``values``, when given, are the chunk's parameters of ``sql.insert_pending``
        already built by the caller.
        """
        if values is None:
            values = []
            for recipient, index, reference_id, digest, contact_id, addresses in chunk:
                values += (
                    key, recipient, index, reference_id, digest, run, now, contact_id, addresses
                )  # fmt: skip
        found = connection.execute(sql.insert_pending(len(chunk)), values).fetchall()
        if len(found) == len(chunk):
            # Every row new (so no two alike): the common case of a first run.
            return [Admission.NEW] * len(chunk)
        inserted = {recipient for (recipient,) in found}
        others = list(dict.fromkeys(row[0] for row in chunk if row[0] not in inserted))
        known: dict[str, tuple[str, int, str, int]] = {}
        if others:
            query = sql.select_admissions(len(others))
            for recipient, *facts in connection.execute(query, (key, *others)):
                known[recipient] = tuple(facts)
        admissions: list[Admission] = []
        claimed: set[str] = set()
        to_mark: list[str] = []
        for recipient, index, _, digest, _, _ in chunk:
            if recipient in inserted:
                admissions.append(
                    Admission.DUPLICATE_OF_NEW if recipient in claimed else Admission.NEW
                )
                claimed.add(recipient)
                continue
            state, row_run, row_digest, attempts = known[recipient]
            previous = RecipientState(state)
            if row_run == run or recipient in claimed:
                admissions.append(Admission(previous=previous, duplicate=True, attempts=attempts))
                continue
            if row_digest != digest:
                raise ValidationError(
                    f"broadcast {broadcast_id!r}: the message for {recipient!r} (input index "
                    f"{index}) differs from the one an earlier run journaled in "
                    f"{self._file.location}; a broadcast id stands for one set of messages: "
                    "resume with the same input, or start a new broadcast id",
                    details={"broadcast_id": broadcast_id, "recipient": recipient, "index": index},
                )
            claimed.add(recipient)
            to_mark.append(recipient)
            admissions.append(Admission(previous=previous, attempts=attempts))
        if to_mark:
            connection.execute(sql.mark_read(len(to_mark)), (run, key, *to_mark))
        return admissions

    def mark_in_flight(self, tasks: Sequence[RecipientTask]) -> list[bool]:
        """Commit ``tasks``' rows as ``in_flight``, before any is sent; which may be sent.

        ``False`` for a task whose row is ``delivered`` (a task queue may deliver
        a task twice, a resume may race another process): it must not be sent.
        Each claimed row's ``attempts`` goes up by one. A row the journal does
        not have is created: a task-queue worker may get tasks from elsewhere
        (with the derived reference id, as ``RecipientTask`` requires).
        Tasks must be of one broadcast and distinct recipients.
        """
        if not tasks:
            return []
        broadcast_id = tasks[0].broadcast_id
        claimed: dict[int, bool] = {}
        # Each row is claimed for its own task's run (one run, in practice).
        for run in dict.fromkeys(task.run for task in tasks):
            positions = [n for n, task in enumerate(tasks) if task.run == run]
            rows = [_prepared(broadcast_id, (tasks[n].index, tasks[n].message)) for n in positions]
            answers = self.claim_prepared(broadcast_id, run, rows)
            claimed.update(zip(positions, answers, strict=True))
        return [claimed[n] for n in range(len(tasks))]

    def claim_prepared(
        self, broadcast_id: str, run: int, rows: Sequence[PreparedRow]
    ) -> list[bool]:
        """``mark_in_flight`` for the tasks of ``rows`` (of run ``run``), derived values given.

        What ``Admitter`` uses, with the values it computed for ``admit_prepared``.
        """
        if not rows:
            return []
        now = utc_now_text()
        claimed: set[str] = set()
        file = self._file
        with file.locked(broadcast_id) as connection:
            key = file.key_locked(broadcast_id, create=True)
            for start in range(0, len(rows), sql.MAX_ROWS_PER_STATEMENT):
                chunk = rows[start : start + sql.MAX_ROWS_PER_STATEMENT]
                values: list[Any] = []
                for index, message, recipient, reference_id, digest in chunk:
                    values += (
                        key,
                        recipient,
                        index,
                        reference_id,
                        digest,
                        run,
                        now,
                        now,
                        *_contact_values(message.recipient),
                    )
                # One statement, so one transaction, committed when it returns.
                found = connection.execute(sql.claim(len(chunk)), values).fetchall()
                claimed.update(recipient for (recipient,) in found)
        return [row.recipient in claimed for row in rows]

    def release(self, tasks: Sequence[RecipientTask]) -> None:
        """Undo ``mark_in_flight`` for tasks that were never sent (a run stopped while queued).

        Each row goes back to the state it had before (``task.previous_state``,
        or ``pending``), so the journal does not claim a send that never started.
        """
        if not tasks:
            return
        file = self._file
        with file.locked(tasks[0].broadcast_id):
            key = file.key_locked(tasks[0].broadcast_id, create=True)
            with file.transaction_locked() as connection:
                connection.executemany(
                    sql.RELEASE,
                    [
                        (
                            (task.previous_state or RecipientState.PENDING).value,
                            key,
                            recipient_key(task.message.recipient),
                        )
                        for task in tasks
                    ],
                )

    def note_pause(self, broadcast_id: str, recipient: str, code: str, text: str) -> None:
        """Note on an ``in_flight`` row why its send waits (``paused until ...``).

        The row stays ``in_flight`` (its send is not over); ``error_code`` and
        ``error_message`` say what holds it, so ``journal show`` during a paused
        run reads "paused until 14:05" rather than a silent in-flight row. The
        outcome, when it comes, replaces the note. A row in any other state is
        left alone.
        """
        file = self._file
        with file.locked(broadcast_id):
            key = file.key_locked(broadcast_id, create=False)
            with file.transaction_locked() as connection:
                connection.execute(sql.NOTE_PAUSE, (code, text, key, recipient))

    def record_outcome(
        self,
        task: RecipientTask,
        state: RecipientState,
        result: DeliveryResult,
        *,
        address_kind: str | None = None,
    ) -> None:
        """Commit the final ``state`` of ``task``'s row, with the result's provider and error.

        For a failure, ``provider`` is the last provider tried: the one whose
        error is recorded. ``address_kind`` is that provider's ``address_kind``
        (``send_recipient`` looks it up in the chain): the row then says which
        of the person's addresses the provider used.
        """
        error = result.error
        provider = recorded_provider(result)
        recipient = task.message.recipient
        if provider is None:
            address_kind = address = None
        else:
            address = _address_used(recipient, address_kind)
        values = (
            state.value,
            provider,
            result.message_id,
            None if error is None else error.code.value,
            None if error is None else error.message,
            utc_now_text(),
            address_kind,
            address,
        )
        file = self._file
        with file.locked(task.broadcast_id) as connection:
            key = file.key_locked(task.broadcast_id, create=True)
            connection.execute(sql.RECORD_OUTCOME, (*values, key, recipient_key(recipient)))

    def record_outcomes(
        self,
        broadcast_id: str,
        outcomes: Sequence[RecipientOutcome],
        address_kinds: Sequence[str | None],
    ) -> None:
        """Commit the final state of several sent rows of one broadcast in one transaction.

        ``outcomes`` are what ``send_recipient`` returned for sends made without
        a journal, each with its ``result``; ``address_kinds`` holds, for each,
        the ``address_kind`` of the provider that ``record_outcome`` would be
        given. One transaction and one timestamp for the whole group: a commit
        per outcome is what a journaled broadcast used to spend most of its
        time on. Until this returns, the rows are still ``in_flight``, which a
        resume sends again under the same reference id.
        """
        if not outcomes:
            return
        now = utc_now_text()
        values: list[tuple[Any, ...]] = []
        file = self._file
        with file.locked(broadcast_id):
            key = file.key_locked(broadcast_id, create=True)
            state_texts = _STATE_TEXT_OF_STATUS
            for outcome, kind in zip(outcomes, address_kinds, strict=True):
                result = outcome.result
                assert result is not None, "only sent outcomes have a final state to record"
                error = result.error
                provider = result.provider if result.success else recorded_provider(result)
                if provider is None:
                    kind = address = None
                elif outcome.contact is None:
                    address = outcome.recipient  # a plain recipient is its own address
                else:
                    address = _address_used(outcome.contact, kind)
                values.append(
                    (
                        state_texts[outcome.status],
                        provider,
                        result.message_id,
                        None if error is None else error.code.value,
                        None if error is None else error.message,
                        now,
                        kind,
                        address,
                        key,
                        outcome.recipient,
                    )
                )
            with file.transaction_locked() as connection:
                connection.executemany(sql.RECORD_OUTCOME, values)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Release any run claim and close the file (every change is committed as it is made)."""
        self._release_all_claims()
        self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"Journal({self.location!r}, durable={self.durable}{mode})"

"""The mark a queued broadcast leaves in its journal while workers hold its messages.

A broadcast submitted to a queue (``broadcastio.distributed``) outlives the
submitter's claim on its id: after ``--detach``, or once the submitter is
killed, the workers are still sending its rows. Its lease is a counter of
outstanding messages in Redis, which only a run that knows the queue can read.
A run that does not (a local resume, from the command line or ``broadcast()``)
needs to find the lease where it finds everything else: in the journal. So
the submitter marks the broadcast there, "queued on QUEUE since T", and
whoever takes the counter to zero removes the mark.

Where the mark lives is the backend's business (``backend.JournalStorage``):

* SQLite: a file beside the journal, ``JOURNAL.queued-DIGEST.lease`` (0600,
  JSON, written whole and renamed into place), as the first version of the
  lease wrote it. The journal's schema is
  not touched, so a journal file stays readable by every version.
* PostgreSQL: a row of the table ``queued_leases``, created with the
  journal's tables (and on open, for a database created before the table).

Each mark carries its submission's token, so the end of one submission's
lease never removes the mark of a newer one (``end_queued_lease``), and the
Redis key that counts its messages, so a submission that names the journal
another way checks the lease that is really held.

``JournalQueuedLeases`` is the part of ``Journal`` that reads and writes the
mark; ``refuse_while_queued`` is what a local run calls once it holds the
broadcast's claim (``BroadcastRun``): holding the claim first means a
submitter cannot mark the broadcast between the check and the run.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from broadcastio.broadcast.journal.errors import JournalError, JournalProblem
from broadcastio.errors import ConfigurationError

if TYPE_CHECKING:
    from broadcastio.broadcast.journal.backend import JournalStorage

__all__ = [
    "JournalQueuedLeases",
    "QueuedBroadcastBusy",
    "QueuedLease",
    "lease_file",
    "queued_advice",
    "read_lease_file",
    "remove_lease_file",
    "write_lease_file",
]

logger = logging.getLogger("broadcastio")


class QueuedBroadcastBusy(ConfigurationError):
    """The broadcast's messages are still on the queue: a resume now would send rows twice.

    A ``ConfigurationError`` (exit 2 on the command line): nothing is wrong
    with the broadcast, the user asked for a resume at a time it cannot run.
    """


@attrs.frozen
class QueuedLease:
    """A queued broadcast's mark in its journal: which queue holds its messages, since when.

    ``queue`` is the queue's URL with its password as ``***``; ``since`` an
    ISO 8601 UTC time; ``token`` names the submission that holds the lease
    (empty in a lease file written before tokens existed); ``key`` the Redis
    key on ``queue`` that counts its messages (empty in a mark written before
    keys were kept: a submitter whose own key differs, because it names the
    journal another way, checks that one before it takes the lease); ``where``
    says where the mark is kept (the lease file, or the table), for messages.
    """

    broadcast_id: str
    queue: str
    since: str
    token: str = ""
    where: str = ""
    key: str = ""


def queued_advice(broadcast_id: str, queue: str) -> str:
    """What every refusal of a queued broadcast's resume starts with."""
    return (
        f"broadcast {broadcast_id} was queued for workers on {queue} and its messages are "
        "still outstanding: a resume now would send those recipients a second time. Wait "
        f"until the workers have drained it (`broadcastio journal show {broadcast_id}`)"
    )


def _digest(broadcast_id: str) -> str:
    return hashlib.blake2b(
        broadcast_id.encode("utf-8", "surrogatepass"), digest_size=10
    ).hexdigest()


def lease_file(journal: Path, broadcast_id: str) -> Path:
    """The lease file of ``broadcast_id`` in the SQLite journal ``journal`` (beside it)."""
    path = journal.resolve()
    return path.with_name(f"{path.name}.queued-{_digest(broadcast_id)}.lease")


def _recorded(path: Path) -> dict[str, Any]:
    """What the lease file ``path`` holds; ``{}`` if it cannot be read or parsed."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def read_lease_file(journal: Path, broadcast_id: str) -> QueuedLease | None:
    """The mark kept in ``journal``'s lease file for ``broadcast_id``, ``None`` without one.

    A lease file that cannot be read or parsed is still a lease: a run must
    not send because a guard it cannot read is damaged.
    """
    path = lease_file(journal, broadcast_id)
    try:
        if not path.is_file():
            return None
    except OSError:
        pass  # cannot even be looked at: still a lease
    recorded = _recorded(path)
    return QueuedLease(
        broadcast_id=broadcast_id,
        queue=str(recorded.get("queue") or "a Redis queue"),
        since=str(recorded.get("since") or ""),
        token=str(recorded.get("token") or ""),
        where=f"lease file {path}",
        key=str(recorded.get("key") or ""),
    )


def _lease_file_error(path: Path, error: OSError, broadcast_id: str, doing: str) -> JournalError:
    """An ``OSError`` on the lease file ``path`` as the ``JournalError`` naming that file."""
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        problem = JournalProblem.READ_ONLY
    elif error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG):
        problem = JournalProblem.FULL
    else:
        problem = JournalProblem.IO_ERROR
    return JournalError(
        path,
        problem,
        detail=f"{doing} the queued lease's mark: {error.strerror or error}",
        broadcast_id=broadcast_id,
        advice=(
            "the mark of a queued broadcast is a file beside the journal: check that the "
            "journal's directory is writable and has room, then try again"
        ),
    )


def write_lease_file(journal: Path, lease: QueuedLease) -> None:
    """Write ``lease`` as ``journal``'s lease file (mode 0600: it names the queue's host).

    Written whole to a temporary file beside it, then renamed over it: a
    reader (or a crash) never meets half a mark, and a failed write leaves the
    previous mark as it was. An ``OSError`` is a ``JournalError`` naming the file.
    """
    path = lease_file(journal, lease.broadcast_id)
    record = {
        "broadcast_id": lease.broadcast_id,
        "queue": lease.queue,
        "since": lease.since,
        "token": lease.token,
        "key": lease.key,
    }
    try:
        # mkstemp makes the file 0600 before anything is written to it.
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(record, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise _lease_file_error(path, error, lease.broadcast_id, "writing") from error


def remove_lease_file(journal: Path, broadcast_id: str, token: str | None) -> None:
    """Remove ``journal``'s lease file of ``broadcast_id``: any, or only ``token``'s.

    A file of another token belongs to a newer submission (the lease ended,
    and another began, between the counter reaching zero and this call): it
    stays. A file without a token (written by the first version) is removed.
    Another process may write a newer mark at any moment, so the file is
    first renamed aside (what is judged is then what is removed), and put
    back if it is not ``token``'s, unless a newer one took its place
    meanwhile. For that instant no mark is there: a newer mark is hidden
    for a moment rather than removed for good.
    """
    path = lease_file(journal, broadcast_id)
    try:
        if token is None:
            path.unlink(missing_ok=True)
            return
        if not path.is_file():
            return  # no mark (``read_lease_file`` sees none either)
        aside = path.with_name(f".{path.name}.{uuid.uuid4().hex}.removing")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        found = str(_recorded(aside).get("token") or "")
        if found and found != token:
            try:
                os.link(aside, path)  # fails if a newer mark was written meanwhile: it stands
            except FileExistsError:
                pass
            except OSError:
                os.rename(aside, path)  # no hard links here: put it back all the same
                return
        os.unlink(aside)
    except OSError as error:
        raise _lease_file_error(path, error, broadcast_id, "removing") from error


class JournalQueuedLeases:
    """``Journal``'s side of the queued lease: the mark, read, written and removed."""

    _file: JournalStorage

    def queued_lease(self, broadcast_id: str) -> QueuedLease | None:
        """The queued lease ``broadcast_id`` holds in this journal, ``None`` if it holds none."""
        storage = self._file
        with storage.locked(broadcast_id):
            return storage.queued_lease_locked(broadcast_id)

    def hold_queued_lease(self, lease: QueuedLease) -> None:
        """Mark ``lease.broadcast_id`` as queued (replacing a stale mark of it)."""
        storage = self._file
        with storage.locked(lease.broadcast_id):
            storage.hold_queued_lease_locked(lease)

    def end_queued_lease(self, broadcast_id: str, *, token: str | None = None) -> None:
        """Remove the mark of ``broadcast_id``: any, or only the one of submission ``token``."""
        storage = self._file
        with storage.locked(broadcast_id):
            storage.end_queued_lease_locked(broadcast_id, token)

    def refuse_while_queued(self, broadcast_id: str) -> None:
        """``QueuedBroadcastBusy`` if ``broadcast_id`` is marked as queued in this journal.

        For a run that knows no queue: it cannot ask Redis whether the lease
        is live, so it trusts the mark, and says how to clear a stale one (a
        resume through the queue checks the counter).
        """
        lease = self.queued_lease(broadcast_id)
        if lease is None:
            return
        since = f" since {lease.since}" if lease.since else ""
        raise QueuedBroadcastBusy(
            queued_advice(broadcast_id, lease.queue + since)
            + ", or resume it with --queue (which checks the queue and clears a lease whose "
            f"messages are gone; {lease.where})",
            field="resume",
        )

"""``RunClaim``: at most one live run of a broadcast id per journal, across processes.

Two runs of one broadcast at the same time both read every pending row and
both send it. The claim is an operating-system lock on a small file next to the
journal, one per broadcast id (``journal.sqlite.run-<hash>.lock``), taken
without waiting: a second run is refused at once.

Why an OS lock and not a row in the journal with an owner and a heartbeat:
the kernel releases a ``flock`` the moment its process dies, SIGKILL and the
OOM killer included, so a crashed run never leaves a stale claim that blocks
the resume, and no lease length has to be guessed (too short and a slow but
live run loses its claim; too long and a resume waits for nothing). The lock
is per open file, so two ``Journal`` objects in one process exclude each other
too. Like SQLite's WAL mode itself, it assumes the journal is on a local
filesystem.

The lock file holds the owner's pid and host, read back only to make the
refusal message useful; it is removed when the claim is released (a crash
leaves an empty, unlocked file that the next run reuses). Removing a lock file
races with another process that has opened it but not locked it yet, so a
claim only counts once the path still names the file that was locked.
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
from pathlib import Path

from broadcastio.broadcast.journal.errors import JournalError, JournalProblem

__all__ = ["RunClaim", "claim_path"]

_BUSY_ERRNOS = {errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK}

if sys.platform == "win32":  # pragma: no cover - not run by the test suite
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # released when the process dies, too

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def claim_path(journal: Path, broadcast_id: str) -> Path:
    """The lock file of ``broadcast_id``'s runs in ``journal`` (a hash: ids may be any text)."""
    digest = hashlib.blake2b(broadcast_id.encode("utf-8", "surrogatepass"), digest_size=10)
    return journal.with_name(f"{journal.name}.run-{digest.hexdigest()}.lock")


class RunClaim:
    """The held claim on one broadcast id of one journal; ``release()`` gives it up."""

    def __init__(self, journal: Path, broadcast_id: str) -> None:
        """Take the claim now, or raise ``JournalError`` (``IN_USE``) naming the holder."""
        self.path = claim_path(journal, broadcast_id)
        self.broadcast_id = broadcast_id
        self._journal = journal
        self._fd: int | None = None
        while self._fd is None:
            fd = self._open()
            try:
                locked = _try_lock(fd)
                # The holder may have removed the file between our open and our lock:
                # then we locked an orphan, and must start again on the path's new file.
                if locked and _same_file(fd, self.path):
                    _write_owner(fd)
                    self._fd = fd
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            if not locked:
                raise JournalError(
                    journal,
                    JournalProblem.IN_USE,
                    detail=f"broadcast {broadcast_id!r} is being sent by {_owner(self.path)}",
                    broadcast_id=broadcast_id,
                    advice=(
                        "two runs of one broadcast would both send every pending recipient; "
                        "wait for it to end, or stop it (Ctrl-C) and resume"
                    ),
                )

    @property
    def held(self) -> bool:
        """Whether this object still holds the claim."""
        return self._fd is not None

    def release(self) -> None:
        """Give the claim up (idempotent); the lock file is removed first, then unlocked."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                self.path.unlink(missing_ok=True)
        except OSError:
            pass  # a leftover lock file is harmless: the next claim reuses it
        finally:
            os.close(fd)  # closing the last descriptor drops the lock

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise JournalError(
                self._journal,
                JournalProblem.CANNOT_OPEN,
                detail=f"cannot create the run lock {self.path}: {error.strerror or error}",
                broadcast_id=self.broadcast_id,
            ) from None

    def __repr__(self) -> str:
        return f"RunClaim({str(self.path)!r}, held={self.held})"


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; ``False`` if someone else holds it."""
    try:
        _lock(fd)
    except OSError as error:
        if error.errno in _BUSY_ERRNOS:
            return False
        raise
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _write_owner(fd: int) -> None:
    owner = f"process {os.getpid()} on {socket.gethostname()}\n".encode()
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, owner)
    except OSError:
        pass  # the owner text only improves a message; the lock is what counts


def _owner(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"

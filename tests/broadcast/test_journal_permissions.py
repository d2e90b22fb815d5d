"""A new journal is private to its owner: it holds personal data and may hold credentials."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import broadcast
from broadcastio_dummy import DummyProvider


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_journal_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the common umask, under which SQLite alone would make 0644
    try:
        path = tmp_path / "journal.sqlite"
        orchestrator = Orchestrator([DummyProvider()])
        broadcast(orchestrator, [Message("+15550000001", "hi")], journal=path)
        from broadcastio import Journal

        with Journal(path) as journal:  # open for writing: the -wal file exists meanwhile
            assert journal.broadcasts()
            wal = path.with_name(path.name + "-wal")
            assert mode(wal) == 0o600
        assert mode(path) == 0o600
    finally:
        os.umask(old)


def test_an_existing_journal_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    broadcast(Orchestrator([DummyProvider()]), [Message("+15550000001", "hi")], journal=path)
    os.chmod(path, 0o640)
    broadcast(Orchestrator([DummyProvider()]), [Message("+15550000002", "hi")], journal=path)
    assert mode(path) == 0o640

"""Several processes opening one new journal at once all get it (a submitter and its workers).

Two races used to fail some of them: one process could read the version
before, and the tables after, another created the journal ("an SQLite database
with other tables"), and switching the file to WAL answers "database is locked"
at once while another process has it open.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

OPENERS = 6
ROUNDS = 10


def _open(path: str, barrier: Any, results: Any) -> None:
    from broadcastio import Journal

    barrier.wait()
    try:
        with Journal(path):
            pass
        results.put("ok")
    except Exception as error:  # noqa: BLE001 - reported to the test
        results.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_new_journal_together_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    failures = []
    for round_number in range(ROUNDS):
        path = str(tmp_path / f"journal-{round_number}.sqlite")
        barrier, results = context.Barrier(OPENERS), context.Queue()
        openers = [
            context.Process(target=_open, args=(path, barrier, results)) for _ in range(OPENERS)
        ]
        for opener in openers:
            opener.start()
        outcomes = [results.get(timeout=60) for _ in openers]
        for opener in openers:
            opener.join(timeout=60)
        failures += [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == []

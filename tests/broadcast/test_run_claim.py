"""One live run per broadcast id: a second one is refused, a killed one blocks nothing.

The claim is an OS lock (``flock``) on SQLite and a session advisory lock on
PostgreSQL: both die with their process; the killed holder here is a real
process sent SIGKILL. Every test runs on both backends (``journal_url``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import Orchestrator
from broadcastio.broadcast import Journal, JournalError, JournalProblem, broadcast
from broadcastio_dummy import DummyProvider

BROADCAST = "daily"


def test_a_second_run_of_the_same_id_is_refused_until_the_first_ends(journal_url: str) -> None:
    with Journal(journal_url) as first, Journal(journal_url) as second:
        run = first.begin_run(BROADCAST)
        with pytest.raises(JournalError, match="in use by another run") as refused:
            second.begin_run(BROADCAST)
        assert refused.value.problem is JournalProblem.IN_USE
        assert refused.value.broadcast_id == BROADCAST
        assert f"process {os.getpid()}" in refused.value.message  # who holds it
        # Another broadcast id in the same journal is not held up.
        assert second.begin_run("weekly") == 1
        assert first.begin_run(BROADCAST) == run + 1  # the holder may start its next run
        first.abandon_run(BROADCAST, run + 1)
        assert second.begin_run(BROADCAST) == run + 1
    if "://" not in journal_url:
        # Closing released everything: no lock files are left next to the journal.
        journal_path = Path(journal_url)
        assert sorted(path.name for path in journal_path.parent.iterdir()) == [journal_path.name]


def test_a_broadcast_refuses_to_run_while_another_holds_the_id(journal_url: str) -> None:
    provider = DummyProvider()
    with Journal(journal_url) as holder:
        holder.begin_run(BROADCAST)
        with pytest.raises(JournalError) as refused:
            broadcast(
                Orchestrator([provider]),
                make_messages(20),
                journal=journal_url,
                broadcast_id=BROADCAST,
            )
    assert refused.value.problem is JournalProblem.IN_USE
    assert provider.sent == []
    with Journal(journal_url, read_only=True) as journal:
        assert journal.info(BROADCAST).runs == 1  # the refused run was not counted


HOLDER = textwrap.dedent(
    """
    import sys, time
    from broadcastio.broadcast import Journal
    journal = Journal(sys.argv[1])
    journal.begin_run(sys.argv[2])
    print("claimed", flush=True)
    time.sleep(120)
    """
)


def test_a_claim_dies_with_a_killed_process(journal_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, journal_url, BROADCAST],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "claimed"
        with Journal(journal_url) as journal:
            with pytest.raises(JournalError, match=f"process {holder.pid} "):
                journal.begin_run(BROADCAST)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    provider = DummyProvider()
    report = broadcast(
        Orchestrator([provider]), make_messages(10), journal=journal_url, broadcast_id=BROADCAST
    )
    assert report.run == 2 and report.delivered == 10

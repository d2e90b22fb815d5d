"""A run refused because its id is live elsewhere never says it started.

Before, the second run printed "broadcastio: starting broadcast daily: 300
recipients, ..." and then "... is in use by another run": read top-down, a
broadcast had started. The start line now comes once the run holds its claim.
Real processes of the installed script.
"""

from __future__ import annotations

import time
from pathlib import Path

from broadcastio.broadcast import Journal, JournalError, RecipientState

RECIPIENTS = 300


def wait_for_delivered(journal: Path, process, broadcast_id: str) -> None:
    """Until the running broadcast has journaled a delivery (it is under way, claim held)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with Journal(journal, read_only=True) as opened:
                if opened.summary(broadcast_id)[RecipientState.DELIVERED]:
                    return
        except (JournalError, ValueError):
            pass  # the journal or the broadcast is not there yet
        time.sleep(0.05)
    raise AssertionError("the first run never journaled a delivery")


def test_a_refused_run_prints_no_start_line_and_the_live_one_did(
    tmp_path: Path, dummy_config, start_script, run_script
) -> None:
    (tmp_path / "team.csv").write_text(
        "recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(RECIPIENTS))
    )
    dummy_config("slow.toml", latency=0.1)  # about 15 s for all: long enough to overlap
    dummy_config("fast.toml")
    arguments = ("broadcast", "--recipients", "team.csv", "--text", "Backup at 9",
                 "--journal", "j.sqlite", "--concurrency", "2", "--id", "daily")  # fmt: skip
    first = start_script("--config", "slow.toml", *arguments)
    assert first.stderr is not None
    started = first.stderr.readline()
    assert started.startswith("broadcastio: starting broadcast daily: 300 recipients"), started
    wait_for_delivered(tmp_path / "j.sqlite", first, "daily")

    refused = run_script("--config", "fast.toml", *arguments)
    assert refused.returncode == 2, refused.stderr
    assert "in use by another run" in refused.stderr
    assert "starting" not in refused.stderr and "resuming" not in refused.stderr
    assert [line for line in refused.stderr.splitlines() if line] == [
        line for line in refused.stderr.splitlines() if line.startswith("broadcastio: error: ")
    ]  # the error is all it says
    assert first.poll() is None, "the first run should still be sending"
    first.kill()
    first.wait(timeout=30)

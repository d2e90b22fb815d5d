"""Two live runs of one broadcast id: the second is refused at once; a SIGKILLed one blocks nothing.

Real processes of the installed script. Before the claim, the second run sent
everything again (599-600 deliveries for 300 recipients, both exit 0).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from broadcastio.broadcast import Journal, JournalError, RecipientState

RECIPIENTS = 300
CONCURRENCY = 2


def write_recipients(path: Path, count: int) -> Path:
    path.write_text("recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(count)))
    return path


def wait_for_delivered(journal: Path, process, broadcast_id: str) -> None:
    """Until the running broadcast has journaled a delivery (it is under way, claim held)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with Journal(journal, read_only=True) as opened:
                if opened.summary(broadcast_id)[RecipientState.DELIVERED]:
                    return
        except JournalError:
            pass  # not created yet
        except ValueError:
            pass  # the broadcast is not in it yet
        time.sleep(0.05)
    raise AssertionError("the first run never journaled a delivery")


def test_a_second_live_run_is_refused_and_a_killed_one_resumes(
    tmp_path: Path, dummy_config, start_script, run_script
) -> None:
    write_recipients(tmp_path / "team.csv", RECIPIENTS)
    dummy_config("slow.toml", latency=0.1)  # about 15 s for all: long enough to overlap
    dummy_config("fast.toml")
    journal = tmp_path / "j.sqlite"
    arguments = ("broadcast", "--recipients", "team.csv", "--text", "Backup at 9",
                 "--journal", str(journal), "--concurrency", str(CONCURRENCY))  # fmt: skip
    first = start_script("--config", "slow.toml", *arguments, "--id", "daily")
    wait_for_delivered(journal, first, "daily")

    second = run_script("--config", "fast.toml", *arguments, "--id", "daily")
    assert second.returncode == 2, second.stderr
    errors = [line for line in second.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "Traceback" not in second.stderr
    assert "in use by another run" in errors[0] and f"process {first.pid} " in errors[0]
    assert str(journal) in errors[0] or "j.sqlite" in errors[0]
    assert first.poll() is None, "the first run should still be sending"

    first.send_signal(signal.SIGKILL)  # the claim must die with it
    first.wait(timeout=30)
    resumed = run_script("--config", "fast.toml", *arguments, "--resume", "daily")
    assert resumed.returncode == 0, resumed.stderr

    with Journal(journal, read_only=True) as opened:
        info = opened.info("daily")
        rows = list(opened.rows("daily"))
    assert info.runs == 2  # the killed run and the resume; the refused one is not counted
    assert {row.state for row in rows} == {RecipientState.DELIVERED} and len(rows) == RECIPIENTS
    # Each recipient was sent once, except those in flight when the first run was killed.
    assert sum(row.attempts for row in rows) <= RECIPIENTS + 2 * CONCURRENCY
    assert not list(tmp_path.glob("j.sqlite.run-*.lock"))  # released, not left behind

"""The journal's environment, as the command line meets it: exit 2, one line, no traceback.

Each problem is produced for real, in a real process of the installed script:

* Unwritable files and directories. The tests run as root, and root ignores
  permission bits through the CAP_DAC_OVERRIDE capability, so the script is
  started with that capability (and CAP_DAC_READ_SEARCH) dropped from its
  bounding set (``prctl(PR_CAPBSET_DROP)`` between fork and exec): it is still
  uid 0, owner of the files, and the kernel now enforces their 0444 / 0555
  modes. As an ordinary user the modes apply anyway.
* A journal that cannot grow mid-run: ``RLIMIT_FSIZE`` caps the size of any
  file the process writes, so the WAL file's growth fails at a real write()
  part-way through the broadcast, as on a full disk (SQLite reports an I/O or
  full error depending on how the write was cut).
* A journal deleted mid-run: its directory removed while the broadcast runs.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from broadcastio.broadcast import Journal, JournalError, RecipientState

CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2
PR_CAPBSET_DROP = 24


def _drop_root_file_override() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.fixture
def run_unprivileged(tmp_path, script, script_env):
    """Run the script so that file permissions bind it (see the module docstring)."""
    preexec = _drop_root_file_override if os.geteuid() == 0 else None
    if preexec is not None:
        try:
            subprocess.run(["true"], preexec_fn=preexec, check=True)
        except (OSError, subprocess.SubprocessError) as error:
            pytest.skip(f"cannot drop CAP_DAC_OVERRIDE here: {error}")

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**script_env, **(env or {})},
            preexec_fn=preexec,
            timeout=60,
        )

    return run


def write_recipients(path: Path, count: int) -> Path:
    path.write_text("recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(count)))
    return path


def assert_one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("broadcastio: error")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], errors[0]
    return errors[0]


BROADCAST = ("broadcast", "--recipients", "team.csv", "--text", "Backup at 9")


def test_a_read_only_journal_file(tmp_path: Path, dummy_config, run_unprivileged) -> None:
    write_recipients(tmp_path / "team.csv", 3)
    dummy_config()
    journal = tmp_path / "journal.sqlite"
    Journal(journal).close()
    journal.chmod(0o444)
    result = run_unprivileged("--config", "dummy.toml", *BROADCAST, "--journal", str(journal))
    assert_one_error_line(result, str(journal), "cannot be written")


def test_a_new_journal_in_a_read_only_directory(
    tmp_path: Path, dummy_config, run_unprivileged
) -> None:
    write_recipients(tmp_path / "team.csv", 3)
    dummy_config()
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    journal = locked / "journal.sqlite"
    result = run_unprivileged("--config", "dummy.toml", *BROADCAST, "--journal", str(journal))
    assert_one_error_line(result, str(journal), "cannot be opened or created")
    assert not journal.exists()


def test_xdg_state_home_that_is_a_file(tmp_path: Path, dummy_config, run_script) -> None:
    write_recipients(tmp_path / "team.csv", 3)
    dummy_config()
    state = tmp_path / "state"
    state.write_text("not a directory\n")
    result = run_script("--config", "dummy.toml", *BROADCAST, env={"XDG_STATE_HOME": str(state)})
    assert_one_error_line(result, "cannot create directory", str(state))


def test_a_journal_that_cannot_grow_mid_run_stops_cleanly_and_says_how_to_resume(
    tmp_path: Path, dummy_config, script, script_env, run_script
) -> None:
    write_recipients(tmp_path / "team.csv", 300)
    dummy_config()
    journal = tmp_path / "journal.sqlite"
    arguments = ["--config", "dummy.toml", *BROADCAST, "--journal", str(journal), "--id", "nine"]
    limit = 256 * 1024  # the WAL passes this after some dozens of commits

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [str(script), *arguments],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=script_env,
        preexec_fn=small_files,
        timeout=60,
    )
    line = assert_one_error_line(result, str(journal), "the run stopped", "resume with:")
    assert "--resume nine" in line
    assert "Traceback" not in result.stderr

    # Once there is room again, the resume finishes the job.
    resumed = run_script(*arguments[:-2], "--resume", "nine")
    assert resumed.returncode == 0, resumed.stderr
    with Journal(journal, read_only=True) as opened:
        counts = opened.summary("nine")
    assert counts[RecipientState.DELIVERED] == 300


def test_a_journal_deleted_mid_run_stops_it(tmp_path: Path, dummy_config, start_script) -> None:
    write_recipients(tmp_path / "team.csv", 300)
    dummy_config("slow.toml", latency=0.05)
    directory = tmp_path / "state"
    directory.mkdir()
    journal = directory / "journal.sqlite"
    process = start_script("--config", "slow.toml", *BROADCAST, "--journal", str(journal),
                           "--id", "nine", "--concurrency", "2")  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with Journal(journal, read_only=True) as opened:
                if opened.summary("nine")[RecipientState.DELIVERED]:
                    break
        except (JournalError, ValueError):
            pass
        time.sleep(0.05)
    shutil.rmtree(directory)  # a clean-up job removing the state directory
    _, stderr = process.communicate(timeout=60)
    result = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    assert_one_error_line(result, str(journal), "was deleted or replaced")


def test_the_default_journal_and_its_directory_are_owner_only(
    tmp_path: Path, dummy_config, run_script
) -> None:
    write_recipients(tmp_path / "team.csv", 3)
    dummy_config()
    state = tmp_path / "state"
    result = run_script("--config", "dummy.toml", *BROADCAST, env={"XDG_STATE_HOME": str(state)})
    assert result.returncode == 0, result.stderr
    # Under the usual umask 022, SQLite and mkdir alone would make 0644 and 0755.
    assert (state / "broadcastio").stat().st_mode & 0o077 == 0
    assert (state / "broadcastio" / "journal.sqlite").stat().st_mode & 0o077 == 0

"""The summary's closing hint is a command that can be pasted, and shows the right journal.

Before, with ``--id "a b" --journal "my dir/j.sqlite"`` it read ``journal: my
dir/j.sqlite (broadcastio journal show a b)``: not quoted, so the shell passed
two ids, and without ``--journal``, so it read the default journal instead.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

RECIPIENTS = 20
HINT = "; every recipient: "


def write_recipients(path: Path, count: int = RECIPIENTS) -> Path:
    path.write_text("recipient\n" + "".join(f"+1555{n:07d}\n" for n in range(count)))
    return path


def show_hint(stdout: str) -> str:
    """The command at the end of the summary's journal line."""
    lines = [line for line in stdout.splitlines() if line.startswith("journal: ")]
    assert len(lines) == 1, stdout
    assert HINT in lines[0], lines[0]
    return lines[0].split(HINT, 1)[1]


def paste(
    hint: str, script: Path, env: dict[str, str], cwd: Path, *, json_output: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``hint`` as a person would: pasted into a POSIX shell, the command on PATH.

    With ``json_output``, ``--json`` is appended (not possible after ``-- ID``).
    """
    path = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["/bin/sh", "-c", hint + (" --json" if json_output else "")],
        capture_output=True, text=True, cwd=cwd, env={**env, "PATH": path}, timeout=60,
    )  # fmt: skip


def test_the_hint_quotes_every_word_and_names_the_journal_and_config(
    tmp_path: Path, write_config, run_script, script: Path, script_env: dict[str, str]
) -> None:
    write_config('[orchestrator]\norder = ["dummy"]\n', name="it's mine.toml")
    write_recipients(tmp_path / "team.csv")
    (tmp_path / "my dir").mkdir()
    # A journal at the default place too, holding another "a b" (of 3 recipients): the
    # hint must not read that one.
    write_recipients(tmp_path / "decoy.csv", 3)
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    decoy = run_script("--config", "it's mine.toml", "broadcast", "--recipients", "decoy.csv",
                       "--text", "decoy", "--id", "a b", env=env)  # fmt: skip
    assert decoy.returncode == 0, decoy.stderr

    sent = run_script("--config", "it's mine.toml", "broadcast", "--recipients", "team.csv",
                      "--text", "Backup at 9", "--journal", "my dir/j.sqlite", "--id", "a b",
                      env=env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    hint = show_hint(sent.stdout)
    assert "--journal 'my dir/j.sqlite'" in hint and "--config 'it'\"'\"'s mine.toml'" in hint

    shown = paste(hint, script, {**script_env, **env}, tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["broadcast"]["broadcast_id"] == "a b"
    assert data["summary"]["delivered"] == len(data["rows"]) == RECIPIENTS  # not the decoy


def test_without_journal_option_the_hint_reads_the_default_journal(
    tmp_path: Path, dummy_config, run_script, script: Path, script_env: dict[str, str]
) -> None:
    dummy_config()
    write_recipients(tmp_path / "team.csv")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    sent = run_script("--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
                      "--text", "hi", "--id", "daily", env=env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    hint = show_hint(sent.stdout)
    assert "--journal" not in hint  # the same environment finds the same default journal
    shown = paste(hint, script, {**script_env, **env}, tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["summary"]["delivered"] == RECIPIENTS


# Ids a shell would split, expand or take for an option: spaces, quotes, $, *, a leading -.
IDS = st.text(
    alphabet=st.sampled_from("ab -'\"$*;&|()`\\!~#"),
    min_size=1,
    max_size=12,
).filter(lambda text: text == text.strip())


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(broadcast_id=IDS)
def test_whatever_the_id_the_pasted_hint_shows_that_broadcast(
    tmp_path_factory, script: Path, script_env: dict[str, str], broadcast_id: str
) -> None:
    folder = tmp_path_factory.mktemp("hint")
    (folder / "dummy.toml").write_text('[orchestrator]\norder = ["dummy"]\n')
    write_recipients(folder / "team.csv")
    sent = subprocess.run(
        [str(script), "--config", "dummy.toml", "broadcast", "--recipients", "team.csv",
         "--text", "hi", "--journal", "j $HOME.sqlite", f"--id={broadcast_id}"],
        capture_output=True, text=True, cwd=folder, env=script_env, timeout=60,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    # An id starting with - follows "--" in the hint: nothing can be appended then.
    shown = paste(show_hint(sent.stdout), script, script_env, folder, json_output=False)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"broadcast {broadcast_id}: {RECIPIENTS} recipients, 1 run(s)")

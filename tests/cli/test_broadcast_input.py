"""``broadcastio broadcast`` against input that used to lose data or crash mid-run.

Every test runs the installed console script: what a person at a shell sees.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio.broadcast import Journal

Run = Callable[..., "subprocess.CompletedProcess[str]"]
BROADCAST = ("--config", "dummy.toml", "broadcast")
MAX_TEXT_BYTES = 1024 * 1024  # the documented limit on message text read from a file or stdin


@pytest.fixture
def team(tmp_path: Path) -> Path:
    path = tmp_path / "team.csv"
    path.write_text("recipient,name\n" + "".join(f"+{1000 + n},n{n}\n" for n in range(100)))
    return path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``broadcastio: error:`` line of a usage failure (exit 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("broadcastio: error: ")
    return lines[0]


# -- item: an output that is the same file as an input ------------------------------------


@pytest.mark.parametrize("spelling", ["same", "absolute", "symlink", "hardlink"])
def test_results_over_the_recipient_file_is_refused_and_the_file_kept(
    run_script: Run, dummy_config: Callable[..., Path], team: Path, tmp_path: Path, spelling: str
) -> None:
    dummy_config()
    before = team.read_bytes()
    results = {
        "same": Path("team.csv"),
        "absolute": team.resolve(),
        "symlink": tmp_path / "link.csv",
        "hardlink": tmp_path / "hard.csv",
    }[spelling]
    if spelling == "symlink":
        results.symlink_to(team)
    elif spelling == "hardlink":
        os.link(team, results)
    journal = tmp_path / "j.sqlite"
    result = run_script(
        *BROADCAST, "--recipients", "team.csv", "--text", "Hi {name}",
        "--results", str(results), "--journal", str(journal),
    )  # fmt: skip
    line = one_error_line(result)
    assert "'--results'" in line and "is the same file as --recipients" in line
    assert team.read_bytes() == before
    assert not journal.exists()  # nothing was opened for writing, nothing sent


@pytest.mark.parametrize(
    ("option", "make"),
    [
        ("--text-file", lambda tmp: (tmp / "note.txt", "Hi {name}")),
        ("--attach", lambda tmp: (tmp / "report.pdf", "%PDF-1.4")),
    ],
)
def test_results_over_the_text_file_or_attachment_is_refused(
    run_script: Run, dummy_config: Callable[..., Path], team: Path, tmp_path: Path, option, make
) -> None:
    dummy_config()
    path, content = make(tmp_path)
    path.write_text(content)
    text = () if option == "--text-file" else ("--text", "Hi")
    result = run_script(
        *BROADCAST, "--recipients", str(team), *text, option, str(path),
        "--results", str(path), "--journal", "j.sqlite",
    )  # fmt: skip
    assert f"is the same file as {option}" in one_error_line(result)
    assert path.read_text() == content


def test_results_over_the_journal_and_a_journal_over_an_input_are_refused(
    run_script: Run, dummy_config: Callable[..., Path], team: Path, tmp_path: Path
) -> None:
    dummy_config()
    journal = tmp_path / "j.sqlite"
    first = run_script(
        *BROADCAST, "--recipients", str(team), "--text", "x", "--journal", str(journal)
    )
    assert first.returncode == 0, first.stderr
    size = journal.stat().st_size
    over_journal = run_script(
        *BROADCAST, "--recipients", str(team), "--text", "x", "--journal", str(journal),
        "--results", str(journal),
    )  # fmt: skip
    assert "is the same file as --journal" in one_error_line(over_journal)
    assert journal.stat().st_size == size
    with Journal(journal, create=False) as opened:
        assert len(opened.broadcasts()) == 1

    before = team.read_bytes()
    over_input = run_script(
        *BROADCAST, "--recipients", str(team), "--text", "x", "--journal", str(team)
    )
    assert "'--journal'" in one_error_line(over_input)
    assert team.read_bytes() == before


def test_results_to_dev_null_is_fine(
    run_script: Run, dummy_config: Callable[..., Path], team: Path
) -> None:
    dummy_config()
    result = run_script(
        *BROADCAST, "--recipients", str(team), "--text", "x", "--results", os.devnull,
        "--journal", "j.sqlite",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


# -- item: a row the journal or the key derivation cannot take ----------------------------


def jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    # json.dumps escapes a lone surrogate as \ud800: valid JSON, decoded back to one.
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="ascii")
    return path


@pytest.mark.parametrize("field", ["name", "recipient"])
def test_a_lone_surrogate_is_a_bad_row_before_any_send(
    run_script: Run, dummy_config: Callable[..., Path], tmp_path: Path, field: str
) -> None:
    dummy_config()
    rows = [{"recipient": f"+{1000 + n}", "name": f"n{n}"} for n in range(60)]
    rows[50][field] += "\ud800"
    path = jsonl(tmp_path / "team.jsonl", rows)
    journal = tmp_path / "j.sqlite"
    result = run_script(
        *BROADCAST, "--recipients", str(path), "--text", "Hi {name}", "--journal", str(journal),
        "--id", "surrogate",
    )  # fmt: skip
    line = one_error_line(result)
    assert f"{path}, line 51:" in line
    assert "lone surrogate (U+D800)" in line and line.endswith("nothing was sent")
    assert not journal.exists()


def test_a_resume_with_a_bad_row_is_refused_before_sending_and_can_be_fixed(
    run_script: Run, dummy_config: Callable[..., Path], tmp_path: Path
) -> None:
    """The old failure: 48 sent, a crash, and the same crash on every resume."""
    dummy_config()
    rows = [{"recipient": f"+{1000 + n}", "name": f"n{n}"} for n in range(10)]
    good = jsonl(tmp_path / "good.jsonl", rows[:5])
    journal = tmp_path / "j.sqlite"
    args = ("--text", "Hi {name}", "--journal", str(journal))
    assert run_script(*BROADCAST, "--recipients", str(good), *args, "--id", "b").returncode == 0
    bad_rows = [dict(row) for row in rows]
    bad_rows[7]["name"] = "\udcff"
    bad = jsonl(tmp_path / "bad.jsonl", bad_rows)
    refused = run_script(*BROADCAST, "--recipients", str(bad), *args, "--resume", "b")
    assert f"{bad}, line 8:" in one_error_line(refused)
    with Journal(journal, create=False) as opened:
        assert opened.info("b").runs == 1  # the refused resume did not even start a run
        assert {str(row.state) for row in opened.rows("b")} == {"delivered"}
    fixed = jsonl(tmp_path / "fixed.jsonl", rows)
    resumed = run_script(*BROADCAST, "--recipients", str(fixed), *args, "--resume", "b", "--json")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert (report["already_delivered"], report["delivered"]) == (5, 5)


def test_arguments_that_are_not_utf8_are_usage_errors(
    script: Path, script_env: dict[str, str], dummy_config: Callable[..., Path], team: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    dummy_config()
    base = [os.fsencode(str(script)), *(a.encode() for a in BROADCAST)]
    base += [b"--recipients", os.fsencode(str(team)), b"--journal", b"j.sqlite"]
    for extra, expected in (
        ([b"--text", b"Hi", b"--id", b"caf\xe9"], b"'--id'"),
        ([b"--text", b"caf\xe9 {name}"], b"template is not UTF-8"),
    ):
        result = subprocess.run(
            base + extra, capture_output=True, cwd=tmp_path, env=script_env, timeout=60
        )
        assert result.returncode == 2, result.stderr
        assert result.stderr.count(b"\n") == 1 and expected in result.stderr
        assert not (tmp_path / "j.sqlite").exists()


# -- item: recipient files the parsers choke on --------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("team.csv", b"recipient,name\n+1,Ada\n+2,Jos\xe9\n", "line 3: not UTF-8 text"),
        ("team.jsonl", b'{"recipient": "+1"}\n{"recipient": "+2", "a": '
         + b"[" * 200_000 + b"]" * 200_000 + b"}\n", "line 2: JSON nested too deeply"),
        ("team.jsonl", b'{"recipient": "+1", "n": ' + b"1" * 5000 + b"}\n",
         "line 1: a number has more than 4300 digits"),
    ],
)  # fmt: skip
def test_recipient_files_that_defeat_the_parser_are_bad_rows(
    run_script: Run, dummy_config: Callable[..., Path], tmp_path: Path, name, data, expected
) -> None:
    dummy_config()
    path = tmp_path / name
    path.write_bytes(data)
    result = run_script(*BROADCAST, "--recipients", name, "--text", "Hi", "--journal", "j.sqlite")
    line = one_error_line(result)
    assert f"{name}, {expected}" in line and line.endswith("nothing was sent")
    assert not (tmp_path / "j.sqlite").exists()


# -- item: a text source without end ---------------------------------------------------------


@pytest.mark.parametrize("command", ["send", "broadcast"])
def test_text_file_dev_zero_is_refused_naming_file_and_limit(
    run_script: Run, dummy_config: Callable[..., Path], team: Path, command: str
) -> None:
    dummy_config()
    target = ("--to", "+1555") if command == "send" else ("--recipients", str(team))
    result = run_script("--config", "dummy.toml", command, *target, "--text-file", "/dev/zero")
    line = one_error_line(result)
    assert "'--text-file'" in line and "'/dev/zero' holds more than 1 MiB" in line


def test_text_from_endless_stdin_is_refused(
    script: Path, script_env: dict[str, str], dummy_config: Callable[..., Path], tmp_path: Path
) -> None:
    dummy_config()
    with open("/dev/zero", "rb") as endless:
        result = subprocess.run(
            [str(script), "--config", "dummy.toml", "send", "--to", "+1555"],
            stdin=endless, capture_output=True, text=True, cwd=tmp_path, env=script_env,
            timeout=60,
        )  # fmt: skip
    assert "stdin holds more than 1 MiB" in one_error_line(result)


@pytest.mark.parametrize(("size", "code"), [(MAX_TEXT_BYTES, 0), (MAX_TEXT_BYTES + 1, 2)])
def test_the_text_limit_is_exact(
    run_script: Run, dummy_config: Callable[..., Path], tmp_path: Path, size: int, code: int
) -> None:
    dummy_config()
    (tmp_path / "long.txt").write_bytes(b"a" * size)
    by_file = run_script("--config", "dummy.toml", "send", "--to", "+1", "--text-file", "long.txt")
    by_stdin = run_script("--config", "dummy.toml", "send", "--to", "+1", input="a" * size)
    assert (by_file.returncode, by_stdin.returncode) == (code, code), by_file.stderr


ODD_ANSWER_PLUGIN = """
from broadcastio import DeliveryResult, MessageProvider, ProviderHealth, hookimpl

class Provider(MessageProvider):
    name = "odd"
    def send(self, message):
        return DeliveryResult.delivered(self.name, "id-\\ud800-" + message.recipient)
    def health(self):
        return ProviderHealth(self.name, True)

@hookimpl
def register_providers(register):
    register(Provider)
"""


@pytest.mark.parametrize("journal", [["--no-journal"], ["--journal", "journal.sqlite"]])
def test_a_provider_answer_utf8_cannot_encode_still_reaches_the_results_file(
    run_script: Run,
    write_config,
    make_distribution,
    team: Path,
    tmp_path: Path,
    journal: list[str],
) -> None:
    """Rows are checked before sending; a provider's answer cannot be, and must not end the run.

    The orchestrator escapes what UTF-8 cannot encode where the answer enters, so
    the results file and the journal both get ``\\ud800`` as text.
    """
    site = make_distribution(
        tmp_path / "site", "broadcastio-odd", {"odd": "broadcastio_odd"},
        {"broadcastio_odd": ODD_ANSWER_PLUGIN},
    )  # fmt: skip
    write_config('[orchestrator]\norder = ["odd"]\n', name="odd.toml")
    result = run_script(
        "--config", "odd.toml", "broadcast", "--recipients", str(team), "--text", "Hi",
        *journal, "--results", "out.jsonl", env={"PYTHONPATH": str(site)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "out.jsonl").read_bytes().decode("utf-8").splitlines()
    ids = sorted(json.loads(line)["result"]["message_id"] for line in lines)
    assert ids == sorted(f"id-\\ud800-+{1000 + n}" for n in range(100))

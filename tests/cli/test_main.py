"""The group: global options, command registration, logging and the error-to-exit-code policy."""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import broadcastio
from broadcastio.cli import health as health_module
from broadcastio.cli.main import COMMANDS, cli, main
from broadcastio.cli.state import CliState


def test_version(invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"broadcastio {broadcastio.__version__}\n"


def test_help_lists_every_command_in_registration_order(invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:\n")[1].split("\n\n")[0]
    assert [line.split()[0] for line in listed.splitlines()] == list(COMMANDS)
    assert "Exit codes" in result.stdout


def test_short_help_option(invoke) -> None:
    assert invoke("send", "-h").stdout.startswith("Usage: broadcastio send [OPTIONS]")


def test_every_registered_command_resolves() -> None:
    context = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(context, name)
        assert isinstance(command, click.Command), name
        assert command.help and command.short_help, f"{name} needs help texts"


def test_a_command_is_one_registration_line(invoke, monkeypatch, dummy_config) -> None:
    # What a new command needs: a module with a click command, and one line in COMMANDS.
    monkeypatch.setitem(COMMANDS, "status", "broadcastio.cli.health:health")
    dummy_config()
    assert "status" in invoke("--help").stdout
    assert invoke("--config", "dummy.toml", "status").exit_code == 0


def test_no_command_shows_the_help(invoke) -> None:
    result = invoke()
    assert "Usage: broadcastio" in result.stderr + result.stdout
    assert "broadcastio: error" not in result.stderr


def test_unknown_command_is_a_one_line_usage_error(invoke) -> None:
    result = invoke("sned")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("broadcastio: error: No such command 'sned'")
    assert len(result.stderr.splitlines()) == 1


def test_verbose_and_quiet_exclude_each_other(invoke) -> None:
    result = invoke("-v", "-q", "plugins")
    assert result.exit_code == 2
    assert "--verbose and --quiet cannot be used together" in result.stderr


def test_verbose_logs_go_to_stderr_and_are_removed_afterwards(invoke, dummy_config) -> None:
    dummy_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    result = invoke("-v", "--config", "dummy.toml", "send", "--to", "+1555", "--text", "hi")
    assert result.exit_code == 0
    assert "broadcastio: info: sending to +1555 through dummy" in result.stderr
    assert "sending to" not in result.stdout
    assert root.handlers == handlers and root.level == level


def test_double_verbose_logs_debug_with_timestamps(invoke, dummy_config) -> None:
    dummy_config()
    result = invoke("-vv", "--config", "dummy.toml", "send", "--to", "+1555", "--text", "hi")
    line = next(line for line in result.stderr.splitlines() if "sending to" in line)
    assert line[:4].isdigit()  # asctime first


def test_quiet_hides_warnings(invoke, dummy_config) -> None:
    dummy_config(healthy=False)  # not ready: the orchestrator warns, then tries anyway
    loud = invoke("--config", "dummy.toml", "send", "--to", "+1555", "--text", "hi")
    assert "broadcastio: warning: no healthy provider" in loud.stderr
    quiet = invoke("-q", "--config", "dummy.toml", "send", "--to", "+1555", "--text", "hi")
    assert quiet.exit_code == 0
    assert quiet.stderr == "" and quiet.stdout == ""


def test_configuration_errors_are_one_line_without_traceback(invoke, write_config) -> None:
    write_config("[orchestrator]\nhealth_ttl = 'soon'\n", "bad.toml")
    result = invoke("--config", "bad.toml", "health")
    assert result.exit_code == 2
    assert result.stderr == (
        "broadcastio: error: bad.toml: orchestrator.health_ttl: expected float, got str\n"
    )


def test_double_verbose_adds_the_traceback_to_an_error(invoke, write_config) -> None:
    write_config("[orchestrator]\nhealth_ttl = 'soon'\n", "bad.toml")
    result = invoke("-vv", "--config", "bad.toml", "health")
    assert result.exit_code == 2
    assert result.stderr.startswith("broadcastio: error: bad.toml: orchestrator.health_ttl")
    assert "Traceback (most recent call last)" in result.stderr


def test_missing_config_file_is_a_usage_error(invoke) -> None:
    result = invoke("--config", "missing.toml", "send", "--to", "+1555", "--text", "hi")
    assert result.exit_code == 2
    assert "missing.toml" in result.stderr and "does not exist" in result.stderr


def test_an_unexpected_exception_is_an_internal_error_without_traceback(
    invoke, monkeypatch, dummy_config
) -> None:
    def explode(orchestrator):
        raise RuntimeError("boom")

    monkeypatch.setattr(health_module, "check_all", explode)
    dummy_config()
    result = invoke("--config", "dummy.toml", "health")
    assert result.exit_code == 3
    assert result.stderr.startswith("broadcastio: error: internal error: RuntimeError: boom\n")
    assert "Traceback" not in result.stderr
    assert "this is a bug; run again with -vv" in result.stderr
    verbose = invoke("--config", "dummy.toml", "-vv", "health")
    assert verbose.exit_code == 3
    assert "Traceback (most recent call last)" in verbose.stderr


def test_keyboard_interrupt_exits_130(invoke, monkeypatch, dummy_config) -> None:
    def interrupted(orchestrator):
        raise KeyboardInterrupt

    monkeypatch.setattr(health_module, "check_all", interrupted)
    dummy_config()
    result = invoke("--config", "dummy.toml", "health")
    assert result.exit_code == 130
    assert result.stderr.strip() == "broadcastio: interrupted"


def test_main_returns_the_exit_code_instead_of_exiting(dummy_config, capsys) -> None:
    dummy_config("failing.toml", fail_first=1)
    dummy_config("working.toml")
    assert main(["--config", "failing.toml", "send", "--to", "+1555", "--text", "hi"]) == 1
    assert main(["--config", "working.toml", "send", "--to", "+1555", "--text", "hi"]) == 0
    assert main(["--version"]) == 0
    assert main(["send"]) == 2
    assert "Missing option '--to'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--bogus"], ["send", "--to"]])
def test_usage_errors_point_at_the_help(invoke, argv) -> None:
    result = invoke(*argv)
    assert result.exit_code == 2
    assert result.stderr.startswith("broadcastio: error: ")
    assert "--help')" in result.stderr


# --- python -m broadcastio -------------------------------------------------------------


def _python_m(
    module: str, *args: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


@pytest.mark.parametrize("module", ["broadcastio", "broadcastio.cli"])
def test_python_m_broadcastio_is_the_same_command(
    module: str, tmp_path: Path, script_env: dict[str, str], dummy_config
) -> None:
    # For when the console script is not on PATH (.venv not activated).
    version = _python_m(module, "--version", cwd=tmp_path, env=script_env)
    assert (version.returncode, version.stdout) == (0, f"broadcastio {broadcastio.__version__}\n")
    dummy_config()
    sent = _python_m(
        module,
        *("send", "--to", "+1555", "--text", "hi", "--config", "dummy.toml", "--json"),
        cwd=tmp_path,
        env=script_env,
    )
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["provider"] == "dummy"
    # Its name in help and errors is broadcastio, not __main__.py.
    wrong = _python_m(module, "sned", cwd=tmp_path, env=script_env)
    assert wrong.returncode == 2
    assert wrong.stderr == (
        "broadcastio: error: No such command 'sned'. (see 'broadcastio --help')\n"
    )


# --- global options after the command --------------------------------------------------

SEND = ("send", "--to", "+1555", "--text", "hi")


def test_quiet_after_the_command_silences_a_successful_send(run_script, dummy_config) -> None:
    dummy_config(healthy=False)  # not ready: the orchestrator warns, then tries anyway
    loud = run_script(*SEND, "--config", "dummy.toml")
    assert loud.returncode == 0
    assert "broadcastio: warning: no healthy provider" in loud.stderr
    quiet = run_script(*SEND, "--config", "dummy.toml", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_config_after_the_command(run_script, dummy_config) -> None:
    dummy_config("other.toml", fail_first=1)
    result = run_script("health", "--config", "other.toml", "--json")
    assert result.returncode == 0, result.stderr
    assert [p["provider"] for p in json.loads(result.stdout)["providers"]] == ["dummy"]
    shown = run_script("config", "--json", "--config", "other.toml")
    assert json.loads(shown.stdout)["providers"]["dummy"]["fail_first"] == 1


def test_config_given_twice_the_one_after_the_command_wins(run_script, dummy_config) -> None:
    dummy_config("failing.toml", fail_first=1)
    dummy_config("working.toml")
    after_wins = run_script("--config", "failing.toml", *SEND, "--config", "working.toml")
    assert after_wins.returncode == 0
    assert run_script("--config", "working.toml", *SEND, "--config", "failing.toml").returncode == 1


def test_verbose_after_the_command_logs_once_at_the_combined_level(
    run_script, dummy_config
) -> None:
    dummy_config()
    info = run_script(*SEND, "-v", "--config", "dummy.toml")
    assert info.returncode == 0
    lines = [line for line in info.stderr.splitlines() if "sending to" in line]
    # One handler, installed once: a line logged once appears once.
    assert lines == ["broadcastio: info: sending to +1555 through dummy"]
    debug = run_script("-v", *SEND, "-v", "--config", "dummy.toml")
    lines = [line for line in debug.stderr.splitlines() if "sending to" in line]
    assert len(lines) == 1 and lines[0][:4].isdigit()  # -v + -v = -vv: debug, timestamps


def test_verbose_and_quiet_in_different_places_still_exclude_each_other(run_script) -> None:
    result = run_script("-v", "plugins", "-q")
    assert result.returncode == 2
    assert result.stderr == (
        "broadcastio: error: --verbose and --quiet cannot be used together "
        "(see 'broadcastio plugins --help')\n"
    )


def test_global_options_after_a_journal_subcommand(run_script) -> None:
    result = run_script("journal", "list", "--journal", "missing.sqlite", "-vv")
    assert result.returncode == 2
    assert "missing.sqlite" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr  # -vv took effect


def test_every_command_lists_the_global_options_in_its_help(invoke) -> None:
    for name in COMMANDS:
        help_text = invoke(name, "--help").stdout
        for option in ("--config PATH", "-v, --verbose", "-q, --quiet"):
            assert option in help_text, (name, option)
        assert "--broadcastio-start-logging" not in help_text


_PLACES = st.sampled_from(["before", "after"])


@settings(max_examples=30, deadline=None)
@given(config=_PLACES, verbose=st.lists(_PLACES, max_size=3), quiet=st.one_of(st.none(), _PLACES))
def test_a_global_option_means_the_same_before_or_after_the_command(
    config: str, verbose: list[str], quiet: str | None
) -> None:
    # In-process (hypothesis runs many examples): the state a command receives
    # depends on which options were given, never on where.
    before: list[str] = []
    after: list[str] = []
    (before if config == "before" else after).extend(["--config", "x.toml"])
    for place in verbose:
        (before if place == "before" else after).append("-v")
    if quiet is not None:
        (before if quiet == "before" else after).append("-q")
    seen: list[CliState] = []
    original = health_module.health.callback

    def spy(state: CliState, *args: object, **kwargs: object) -> None:
        seen.append(attrs.evolve(state))

    health_module.health.callback = click.pass_obj(spy)
    try:
        code = main([*before, "health", *after])
    finally:
        health_module.health.callback = original
    if verbose and quiet is not None:
        assert code == 2 and seen == []
        return
    assert code == 0
    assert seen == [CliState(config_path=Path("x.toml"), verbosity=len(verbose), quiet=bool(quiet))]


# --- the README's own command lines ----------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quick_start_shell_lines_run_as_written(run_script) -> None:
    # The quick start's shell block must say how to get the command and then work.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert lines[0] == ". .venv/bin/activate"
    commands = [shlex.split(line) for line in lines[1:]]
    assert commands and all(command[0] == "broadcastio" for command in commands)
    for command in commands:
        result = run_script(*command[1:])
        assert result.returncode == 0, (command, result.stderr)


def test_make_demo_ends_by_saying_how_to_run_the_command() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/activate" in recipe
    assert "python -m broadcastio" in recipe

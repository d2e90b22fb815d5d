"""The group: global options, command registration, logging and the error-to-exit-code policy."""

from __future__ import annotations

import logging

import click
import pytest

import broadcastio
from broadcastio.cli import health as health_module
from broadcastio.cli.main import COMMANDS, cli, main


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

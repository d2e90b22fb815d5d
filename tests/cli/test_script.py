"""The installed ``broadcastio`` script as a real process: streams, exit codes, signals, plugins.

These run what a shell or cron runs, so they catch what ``CliRunner`` cannot:
the console-script entry point, real stdin/stdout/stderr and their split, a
real SIGINT, and plugins found through ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time

import pytest

DUMMY = ("--config", "dummy.toml")


def test_json_on_stdout_logs_on_stderr(run_script, dummy_config) -> None:
    dummy_config()
    result = run_script("-vv", *DUMMY, "send", "--to", "+1555", "--text", "hi", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["provider"] == "dummy"  # nothing but JSON on stdout
    assert "broadcastio: info: sending to +1555 through dummy" in result.stderr


def test_exit_0_delivered(run_script, dummy_config) -> None:
    dummy_config()
    result = run_script(*DUMMY, "send", "--to", "+1555", "--text", "hi")
    assert result.returncode == 0
    assert result.stdout.startswith(
        "delivered via dummy (dummy is a test double: nothing was sent): message id dummy-"
    )
    assert result.stderr == ""


def test_exit_1_not_delivered(run_script, dummy_config) -> None:
    dummy_config(fail_first=1)
    result = run_script(*DUMMY, "send", "--to", "+1555", "--text", "hi")
    assert result.returncode == 1
    assert result.stdout.startswith("not delivered: PROVIDER_UNAVAILABLE")


def test_exit_1_nobody_healthy_in_strict_mode(run_script, dummy_config) -> None:
    dummy_config(healthy=False)
    result = run_script(*DUMMY, "send", "--to", "+1555", "--text", "hi", "--require-healthy")
    assert result.returncode == 1
    assert result.stderr == "broadcastio: error: no healthy provider: dummy: configured unhealthy\n"


def test_exit_2_usage_error(run_script) -> None:
    result = run_script("send", "--text", "hi")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "broadcastio: error: Missing option '--to'. (see 'broadcastio send --help')\n"
    )


def test_exit_2_configuration_error(run_script, write_config) -> None:
    write_config("[orchestrator]\nhealth_ttl = -1\n")
    result = run_script("send", "--to", "+1555", "--text", "hi")
    assert result.returncode == 2
    assert result.stderr.startswith("broadcastio: error: ")
    assert "broadcastio.toml: orchestrator.health_ttl" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_from_a_pipe(run_script, dummy_config) -> None:
    dummy_config()
    result = run_script(*DUMMY, "send", "--to", "+1555", input="from a pipe\n")
    assert result.returncode == 0


def test_terminal_without_text_is_a_usage_error(script, script_env, tmp_path, dummy_config):
    # A real terminal on stdin: the command must refuse at once instead of waiting.
    dummy_config()
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [str(script), *DUMMY, "send", "--to", "+1555"],
            stdin=terminal,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=script_env,
            timeout=30,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert result.returncode == 2
    assert "no message text: give --text or --text-file, or pipe the text on stdin" in (
        result.stderr
    )


def test_exit_130_on_sigint_while_sending(start_script, dummy_config) -> None:
    dummy_config(latency=30)
    process = start_script("-v", *DUMMY, "send", "--to", "+1555", "--text", "hi")
    assert process.stderr is not None
    for line in process.stderr:  # logged just before the (30 s) send starts
        if "sending to +1555 through dummy" in line:
            break
    else:
        pytest.fail("the send never started")
    time.sleep(0.2)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert time.monotonic() - started < 10
    assert stdout == ""
    assert stderr.strip() == "broadcastio: interrupted"


@pytest.fixture
def with_broken_plugin(script_env, broken_plugin_path) -> dict[str, str]:
    return {**script_env, "PYTHONPATH": str(broken_plugin_path)}


def test_broken_plugin_is_listed(run_script, with_broken_plugin) -> None:
    result = run_script("plugins", "--json", env=with_broken_plugin)
    assert result.returncode == 0
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)["plugins"]}
    assert plugins["broken"]["error"] == (
        "import failed: ImportError: the SDK broadcastio_broken needs is not installed"
    )
    assert plugins["dummy"]["error"] is None
    assert "plugin 'broken' (from broadcastio-broken) skipped" in result.stderr


def test_broken_plugin_does_not_break_send(run_script, with_broken_plugin, dummy_config) -> None:
    dummy_config()
    result = run_script(
        *DUMMY, "send", "--to", "+1555", "--text", "hi", "--json", env=with_broken_plugin
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["provider"] == "dummy"
    assert "broadcastio: warning: broadcastio plugin 'broken'" in result.stderr


def test_bash_completion_script(run_script) -> None:
    result = run_script(env={"_BROADCASTIO_COMPLETE": "bash_source"})
    assert result.returncode == 0
    assert "_broadcastio_completion()" in result.stdout
    assert "complete -o nosort -F _broadcastio_completion broadcastio" in result.stdout


def test_completion_of_commands_and_provider_names(run_script) -> None:
    def complete(words: str) -> list[str]:
        result = run_script(
            env={
                "_BROADCASTIO_COMPLETE": "bash_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split(" ")) - 1),
            }
        )
        assert result.returncode == 0, result.stderr
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]

    assert complete("broadcastio ") == [
        "send", "health", "plugins", "config", "broadcast", "journal", "worker"
    ]  # fmt: skip
    # Every installed type, sorted; other plugins installed beside these are fine.
    providers = complete("broadcastio send --provider ")
    assert {"dummy", "email", "telegram", "whatsapp"} <= set(providers)
    assert providers == sorted(providers)
    assert complete("broadcastio send --provider wh") == ["whatsapp"]
    assert complete("broadcastio send --provider t") == ["telegram"]


def test_python_dash_m(script_env, tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "broadcastio.cli", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=script_env,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("broadcastio ")

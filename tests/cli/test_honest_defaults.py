"""Nothing counts as delivered by accident, and a send from the command line always ends.

Every test runs the installed ``broadcastio`` script as a subprocess, as a new
user or a cron job would, in an empty folder with no configuration.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

NO_PROVIDER = "broadcastio: error: no provider is configured: "


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host, port = listener.getsockname()
    yield f"http://{host}:{port}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.mark.parametrize("quiet", [[], ["-q"]])
def test_send_with_nothing_configured_is_a_usage_error_not_a_dummy_delivery(
    run_script: Callable[..., object], quiet: list[str]
) -> None:
    result = run_script(*quiet, "send", "--to", "+15551234567", "--text", "Backup failed on db1")
    assert result.returncode == 2  # type: ignore[attr-defined]
    assert result.stdout == ""  # type: ignore[attr-defined]
    (line,) = result.stderr.splitlines()  # type: ignore[attr-defined]
    assert line.startswith(NO_PROVIDER)
    assert "--provider NAME" in line and "[providers.whatsapp]" in line
    assert "test doubles, used only when named: dummy" in line


def test_health_with_nothing_configured_is_a_usage_error(run_script) -> None:
    result = run_script("health")
    assert result.returncode == 2
    assert result.stderr.startswith(NO_PROVIDER)


def test_broadcast_with_nothing_configured_sends_nothing(run_script, tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text("recipient\n+15551234567\n+15551234568\n")
    journal = tmp_path / "journal.sqlite"
    result = run_script(
        "broadcast", "--recipients", "people.csv", "--text", "hi", "--journal", str(journal)
    )
    assert result.returncode == 2
    assert NO_PROVIDER in result.stderr


def test_a_dummy_table_does_not_put_the_test_double_in_the_chain(
    run_script, write_config
) -> None:
    write_config("[providers.dummy]\nlatency = 0\n")
    result = run_script("send", "--to", "+1555", "--text", "hi")
    assert result.returncode == 2
    assert result.stderr.startswith("broadcastio: error: ")
    assert "no provider is configured" in result.stderr


def test_a_named_test_double_says_that_nothing_was_sent(run_script) -> None:
    result = run_script("send", "--to", "+1555", "--text", "hi", "--provider", "dummy")
    assert result.returncode == 0
    assert result.stdout.startswith(
        "delivered via dummy (dummy is a test double: nothing was sent)"
    )
    data = json.loads(
        run_script("send", "--to", "+1555", "--text", "hi", "--provider", "dummy", "--json").stdout
    )
    assert data["success"] is True and data["test_double"] is True


def test_a_bridge_that_never_answers_ends_at_the_send_deadline(
    run_script, write_config, silent_server: str
) -> None:
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp"]
        [providers.whatsapp]
        base_url = "{silent_server}"
        api_key = "not-a-real-key"
        """
    )
    result = run_script("send", "--to", "+15551234567", "--text", "hi", "--timeout", "1")
    assert result.returncode == 1
    assert result.stdout.startswith("not delivered: TIMEOUT: ")
    assert "send deadline of 1s" in result.stdout
    assert "unreachable" not in result.stdout


def test_the_configured_deadline_applies_without_the_option(
    run_script, write_config, silent_server: str
) -> None:
    write_config(
        f"""
        [orchestrator]
        order = ["whatsapp"]
        timeout = 0.5
        [providers.whatsapp]
        base_url = "{silent_server}"
        api_key = "not-a-real-key"
        """
    )
    result = run_script("send", "--to", "+15551234567", "--text", "hi", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["error"]["code"] == "TIMEOUT"
    assert data["error"]["details"]["deadline_reached"] is True
    assert data["error"]["details"]["timeout"] == 0.5


@pytest.mark.parametrize("value", ["0", "-1", "nan", "soon", "86401"])
def test_a_bad_timeout_option_is_a_usage_error(run_script, value: str) -> None:
    result = run_script(
        "send", "--to", "+1555", "--text", "hi", "--provider", "dummy", "--timeout", value
    )
    assert result.returncode == 2
    assert "'--timeout'" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_timeout_setting_names_the_key(run_script, write_config) -> None:
    write_config('[orchestrator]\norder = ["dummy"]\ntimeout = -3\n')
    result = run_script("send", "--to", "+1555", "--text", "hi")
    assert result.returncode == 2
    assert "broadcastio.toml: orchestrator.timeout: " in result.stderr


def test_health_checks_only_the_chain_and_fails_when_none_of_it_is_ready(
    run_script, write_config, closed_port: int
) -> None:
    # The dummy is installed and always ready, but it is not in this chain: an
    # always-ready test double must not make a dead WhatsApp look healthy.
    write_config(
        f"""
        [providers.whatsapp]
        base_url = "http://127.0.0.1:{closed_port}"
        api_key = "not-a-real-key"
        """
    )
    result = run_script("health", "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [entry["provider"] for entry in data["providers"]] == ["whatsapp"]
    assert data["any_ready"] is False

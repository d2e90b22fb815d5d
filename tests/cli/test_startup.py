"""Start-up stays light: listing and help import no provider SDK and open no connection.

Each check runs in a fresh interpreter, since this process has long since
imported everything. ``socket.socket.connect`` is booby-trapped there, so any
network access fails the run instead of passing unnoticed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, socket, sys

def no_network(*args, **kwargs):
    raise SystemExit("a network connection was attempted")

socket.socket.connect = no_network
socket.socket.connect_ex = no_network
from broadcastio.cli.main import main
code = main(sys.argv[1:])
report = {"code": code, "requests": "requests" in sys.modules, "urllib3": "urllib3" in sys.modules}
sys.stderr.write("PROBE " + json.dumps(report) + "\\n")
"""


def probe(tmp_path, script_env, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=script_env,
        timeout=60,
    )
    line = next(line for line in result.stderr.splitlines() if line.startswith("PROBE "))
    return {**json.loads(line[len("PROBE ") :]), "stdout": result.stdout}


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["plugins", "--json"], ["plugins"], ["send", "--help"]],
)
def test_no_provider_sdk_is_imported(tmp_path, script_env, args) -> None:
    report = probe(tmp_path, script_env, *args)
    assert report["code"] == 0
    assert report["requests"] is False and report["urllib3"] is False


def test_plugins_still_reports_every_provider(tmp_path, script_env) -> None:
    # Lazy imports must not lose information: the WhatsApp provider is listed all the same.
    report = probe(tmp_path, script_env, "plugins", "--json")
    providers = {
        plugin["name"]: plugin["providers"] for plugin in json.loads(report["stdout"])["plugins"]
    }
    # Every installed plugin; these three ship with the core's checkout.
    for name in ("dummy", "email", "whatsapp"):
        assert providers[name] == [name]


def test_importing_broadcastio_loads_neither_the_cli_nor_a_plugin(script_env) -> None:
    code = (
        "import sys, broadcastio\n"
        "print(sorted(m for m in sys.modules if m.startswith(('broadcastio.cli', "
        "'broadcastio_', 'click', 'requests'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=script_env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

"""Provider instances through the installed ``broadcastio`` script.

``config`` lists the instances in effect, ``plugins`` the types, ``--provider``
takes instance names, and two WhatsApp instances (two real bridges, fake
driver) fall back from one to the other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

SEND = ("send", "--to", "+15550100", "--text", "disk full", "--json")

TWO_DUMMIES = """
[orchestrator]
order = ["first", "second"]

[providers.first]
type = "dummy"
fail_first = 5

[providers.second]
type = "dummy"
rate_limit = "50/second"
retry = { max_attempts = 2 }
"""


def test_config_lists_the_instances_with_their_types(run_script, write_config) -> None:
    write_config(TWO_DUMMIES)
    result = run_script("config", "--json", env={"BROADCASTIO_DISABLE_PLUGINS": "email"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["chain"] == ["first", "second"]
    assert data["configured"] == ["first", "second"]
    providers = data["providers"]
    assert providers["first"]["type"] == "dummy" and providers["first"]["fail_first"] == 5
    assert providers["second"]["rate_limit"] == "50/second"
    assert providers["second"]["retry"]["max_attempts"] == 2
    # The types without a table are there as their default instances.
    assert providers["whatsapp"]["type"] == "whatsapp"

    human = run_script("config", env={"BROADCASTIO_DISABLE_PLUGINS": "email"})
    assert human.returncode == 0, human.stderr
    assert "# chain: first, second" in human.stdout.splitlines()
    assert "[providers.first]" in human.stdout.splitlines()
    assert (
        "[providers.whatsapp]  # not in the chain; default instance of its type, no table"
        in human.stdout.splitlines()
    )
    # What is read is what one would write: the TOML parses back with its types.
    parsed = tomllib.loads(human.stdout)
    assert parsed["providers"]["first"]["type"] == "dummy"
    assert parsed["providers"]["second"]["type"] == "dummy"


def test_plugins_lists_types_not_instances(run_script, write_config) -> None:
    write_config(TWO_DUMMIES)
    result = run_script("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)["plugins"]}
    assert plugins["dummy"]["providers"] == ["dummy"]
    human = run_script("plugins")
    header = human.stdout.splitlines()[0].split()
    assert header == ["PLUGIN", "DISTRIBUTION", "VERSION", "TYPES", "HOOKS"]
    assert "first" not in human.stdout


def test_send_falls_back_between_two_instances_of_one_type(run_script, write_config) -> None:
    write_config(TWO_DUMMIES)
    result = run_script(*SEND, "--trace")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["provider"] == "second"
    assert data["test_double"] is True  # an instance of the dummy is still a test double
    assert data["providers_tried"] == ["first", "second"]
    assert [attempt["provider"] for attempt in data["trace"]["attempts"]] == ["first", "second"]


def test_provider_option_takes_an_instance_name(run_script, write_config) -> None:
    write_config(TWO_DUMMIES)
    result = run_script(*SEND, "--provider", "second")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == "second"
    unknown = run_script(*SEND, "--provider", "third")
    assert unknown.returncode == 2
    assert unknown.stdout == ""
    (line,) = unknown.stderr.splitlines()
    assert line.startswith("broadcastio: error: --provider: unknown provider 'third'; ")
    assert "first" in line and "second" in line


def test_unknown_type_is_one_line_with_file_key_and_available_types(
    run_script, write_config
) -> None:
    path = write_config('[providers.alerts-mail]\ntype = "emial"\nhost = "smtp.example.com"\n')
    for command in (SEND, ("config",)):
        result = run_script(*command)
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        (line,) = result.stderr.splitlines()
        assert line.startswith(
            f"broadcastio: error: {path}: providers.alerts-mail.type: "
            "unknown provider type 'emial'; available types: "
        )
        assert "dummy" in line and "whatsapp" in line


API_KEY = "cli-instances-key-51aa"


@pytest.fixture
def two_bridges() -> Iterator[tuple[LocalBridge, LocalBridge]]:
    started: list[LocalBridge] = []
    try:
        for _ in range(2):
            started.append(LocalBridge({"BRIDGE_API_KEY": API_KEY, "BRIDGE_LOG_LEVEL": "info"}))
    except BridgeStartError as error:
        for bridge in started:
            bridge.stop()
        pytest.fail(str(error))
    yield started[0], started[1]
    for bridge in started:
        bridge.stop()


@pytest.mark.integration
def test_two_whatsapp_numbers_in_one_chain(two_bridges, run_script, write_config) -> None:
    sales, support = two_bridges
    write_config(
        f"""
        [orchestrator]
        order = ["wa-sales", "wa-support"]

        [providers.wa-sales]
        type = "whatsapp"
        base_url = "{sales.url}"
        api_key = "${{BRIDGE_KEY}}"

        [providers.wa-support]
        type = "whatsapp"
        base_url = "{support.url}"
        api_key = "${{BRIDGE_KEY}}"
        """
    )
    env = {"BRIDGE_KEY": API_KEY}
    first = run_script(*SEND, env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["provider"] == "wa-sales"
    sales.kill()
    second = run_script(*SEND, "--trace", env=env)
    assert second.returncode == 0, second.stderr
    data = json.loads(second.stdout)
    assert data["provider"] == "wa-support"
    # A fresh process asks health first: the dead number is skipped by its own name.
    assert [skipped["provider"] for skipped in data["trace"]["skipped"]] == ["wa-sales"]
    assert [message["text"] for message in support.sent()] == ["disk full"]
    assert API_KEY not in first.stdout + first.stderr + second.stdout + second.stderr


def complete(run_script, *words: str) -> list[str]:
    """What bash completion offers for the last of ``words`` (click's completion protocol)."""
    line = ["broadcastio", *words]
    result = run_script(
        env={
            "_BROADCASTIO_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(line),
            "COMP_CWORD": str(len(line) - 1),
        }
    )
    assert result.returncode == 0, result.stderr
    return [entry.split(",", 1)[1] for entry in result.stdout.splitlines()]


def test_provider_completion_offers_instances_and_types(run_script, write_config) -> None:
    write_config(TWO_DUMMIES, name="two.toml")
    offered = complete(run_script, "--config", "two.toml", "send", "--provider", "")
    assert {"first", "second", "dummy", "whatsapp"} <= set(offered)
    assert complete(run_script, "--config", "two.toml", "send", "--provider", "f") == ["first"]
    # A file that cannot be read still leaves the types to complete.
    write_config("[providers\n", name="broken.toml")
    assert "dummy" in complete(run_script, "--config", "broken.toml", "send", "--provider", "")

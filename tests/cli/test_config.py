"""``broadcastio config``: where the file came from, what it resolves to, secrets hidden."""

from __future__ import annotations

import json
import sys

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECRET = "s3cret-key-value-9f2"

WHATSAPP_WITH_SECRET = """
[orchestrator]
order = ["dummy", "whatsapp"]
health_ttl = 5

[providers.whatsapp]
base_url = "http://127.0.0.1:3999"
api_key = "${WA_KEY}"
rate_limit = "20/minute"

[providers.dummy]
latency = 0.5
retry = { max_attempts = 2, backoff = "fixed", base_delay = 0.1 }
"""


def config_json(invoke, *args: str) -> dict:
    result = invoke(*args, "config", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_no_file_means_defaults(invoke) -> None:
    data = config_json(invoke)
    assert data["source"] == {"path": None, "origin": "defaults (no configuration file found)"}
    # No order and nothing configured: no chain, and the reason says what to add.
    assert data["orchestrator"]["order"] is None
    assert data["chain"] == []
    assert data["chain_problem"].startswith("no provider is configured: ")
    assert {"dummy", "email", "whatsapp"} <= set(data["providers"])
    assert data["orchestrator"]["retry"]["max_attempts"] == 1  # the default policy, spelled out


@pytest.mark.parametrize(
    ("where", "origin"),
    [
        ("explicit", "--config"),
        ("environment", "$BROADCASTIO_CONFIG"),
        ("cwd", "./broadcastio.toml"),
        ("user", "user config directory"),
    ],
)
def test_source_follows_the_lookup_order(
    invoke, write_config, monkeypatch, tmp_path, where, origin
) -> None:
    if where == "explicit":
        path = write_config("", "elsewhere/chosen.toml")
        data = config_json(invoke, "--config", str(path))
    elif where == "environment":
        path = write_config("", "elsewhere/env.toml")
        monkeypatch.setenv("BROADCASTIO_CONFIG", str(path))
        data = config_json(invoke)
    elif where == "cwd":
        path = write_config("")
        data = config_json(invoke)
    else:
        path = write_config("", "xdg/broadcastio/config.toml")
        data = config_json(invoke)
    assert data["source"] == {"path": str(path), "origin": origin}


def test_resolved_values_with_secrets_redacted(invoke, write_config, monkeypatch) -> None:
    monkeypatch.setenv("WA_KEY", SECRET)
    write_config(WHATSAPP_WITH_SECRET)
    result = invoke("config", "--json")
    assert SECRET not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["chain"] == ["dummy", "whatsapp"]
    assert data["orchestrator"]["health_ttl"] == 5.0
    whatsapp = data["providers"]["whatsapp"]
    assert whatsapp["api_key"] == "***"
    assert whatsapp["base_url"] == "http://127.0.0.1:3999"
    assert whatsapp["rate_limit"] == "20/minute"
    dummy = data["providers"]["dummy"]
    assert dummy["latency"] == 0.5 and dummy["fail_first"] == 0  # file value, then default
    assert dummy["retry"]["backoff"] == "fixed"


def test_human_form_is_toml(invoke, write_config, monkeypatch) -> None:
    monkeypatch.setenv("WA_KEY", SECRET)
    write_config(WHATSAPP_WITH_SECRET)
    result = invoke("config")
    assert result.exit_code == 0
    assert SECRET not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# configuration: ") and lines[0].endswith(
        "broadcastio.toml (./broadcastio.toml)"
    )
    assert lines[1] == "# chain: dummy, whatsapp"
    parsed = tomllib.loads(result.stdout)
    assert parsed["orchestrator"]["order"] == ["dummy", "whatsapp"]
    assert parsed["providers"]["whatsapp"]["api_key"] == "***"
    assert parsed["providers"]["dummy"]["retry"]["base_delay"] == 0.1
    assert "# retry_after is not set" in lines


def test_providers_outside_the_chain_are_marked(invoke, write_config) -> None:
    write_config('[orchestrator]\norder = ["dummy"]\n')
    assert "[providers.whatsapp]  # not in the chain" in invoke("config").stdout


def test_invalid_configuration_exits_2_with_file_and_key(invoke, write_config) -> None:
    write_config("[providers.whatsapp]\ntimeout = 'long'\n")
    result = invoke("config")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "broadcastio.toml: providers.whatsapp.timeout" in result.stderr


def test_unset_environment_variable_is_named(invoke, write_config) -> None:
    write_config(WHATSAPP_WITH_SECRET)
    result = invoke("config")
    assert result.exit_code == 2
    assert "providers.whatsapp.api_key: environment variable WA_KEY is not set" in result.stderr

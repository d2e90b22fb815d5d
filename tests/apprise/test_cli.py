"""The apprise type through the installed ``broadcastio`` command: config, errors, plugins."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from apprise_helpers import json_url, run_cli
from local_http import HttpServer

PASSWORD = "hunter22-pw-e4f1"
TOKEN = "tok-77aa88bb99cc"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("urls", "key", "words"),
    [
        ('["json://hooks.example.com/a", "nope://secret-token-123"]', "urls[1]", "nope://"),
        ('["json://hooks.example.com/a?retry=2"]', "urls[0]", "retry=2"),
        ('"json://hooks.example.com/a"', "urls", "expected a list"),
        ("[]", "urls", "needs urls"),
    ],
)
def test_bad_settings_are_one_line_naming_the_file_and_key(
    tmp_path: Path, urls: str, key: str, words: str
) -> None:
    config = write(
        tmp_path,
        f"""
        [orchestrator]
        order = ["alerts"]

        [providers.alerts]
        type = "apprise"
        urls = {urls}
        """,
    )
    for command in (["config"], ["send", "--to", "team", "--text", "hi"]):
        done = run_cli(tmp_path, "--config", str(config), *command)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"broadcastio: error: {config}: providers.alerts.{key}: ")
        assert words in lines[0]
        assert "secret-token-123" not in done.stderr


def test_a_bad_timeout_names_its_key(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
        [providers.alerts]
        type = "apprise"
        urls = ["json://hooks.example.com/a"]
        timeout = 0
        """,
    )
    done = run_cli(tmp_path, "--config", str(config), "config")
    assert done.returncode == 2
    assert f"{config}: providers.alerts.timeout: " in done.stderr


def secret_config(tmp_path: Path, server: HttpServer) -> Path:
    url = json_url(server, auth="ops:${HOOK_PASSWORD}@", query="+X-Api-Token=${HOOK_TOKEN}")
    return write(
        tmp_path,
        f"""
        [orchestrator]
        order = ["alerts"]
        health_ttl = 0

        [providers.alerts]
        type = "apprise"
        urls = ["{url}"]
        timeout = 5
        """,
    )


SECRETS = {"HOOK_PASSWORD": PASSWORD, "HOOK_TOKEN": TOKEN}


def test_config_shows_urls_redacted(tmp_path: Path, http_server: HttpServer) -> None:
    config = secret_config(tmp_path, http_server)
    for extra in ([], ["--json"]):
        done = run_cli(tmp_path, "--config", str(config), "config", *extra, env=SECRETS)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stdout and TOKEN not in done.stdout
        assert "X-Api-Token=***" in done.stdout and "ops:****@" in done.stdout
    data = json.loads(done.stdout)
    assert data["chain"] == ["alerts"]
    assert data["providers"]["alerts"]["type"] == "apprise"


def test_plugins_lists_the_apprise_type(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "plugins", "--json")
    assert done.returncode == 0, done.stderr
    plugins = {plugin["name"]: plugin for plugin in json.loads(done.stdout)["plugins"]}
    assert plugins["apprise"]["distribution"] == "broadcastio-apprise"
    assert plugins["apprise"]["providers"] == ["apprise"]
    assert plugins["apprise"]["error"] is None


def test_health_shows_the_instance_ready_and_redacted(
    tmp_path: Path, http_server: HttpServer
) -> None:
    config = secret_config(tmp_path, http_server)
    done = run_cli(tmp_path, "--config", str(config), "health", "--json", env=SECRETS)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout and TOKEN not in done.stdout
    (health,) = json.loads(done.stdout)["providers"]
    assert health["provider"] == "alerts" and health["ready"] is True
    assert health["details"]["services"] == ["JSON"]
    (shown,) = health["details"]["urls"]
    assert shown.startswith("json://ops:****@127.0.0.1:") and shown.endswith("X-Api-Token=***")
    assert http_server.requests == []  # health does not notify anyone


def test_a_send_through_the_command_line_reaches_the_service(
    tmp_path: Path, http_server: HttpServer
) -> None:
    config = secret_config(tmp_path, http_server)
    done = run_cli(
        tmp_path, "--config", str(config), "send", "--to", "team", "--text", "deployed",
        "--title", "release 1.4", "--json", env=SECRETS,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "alerts"
    (request,) = http_server.requests
    assert request.json()["title"] == "release 1.4"
    assert request.header("X-Api-Token") == TOKEN


def test_a_json_url_path_stays_out_of_config_and_debug_output(
    tmp_path: Path, http_server: HttpServer
) -> None:
    secret_path = "/hooks/T0DE1F2/B0A9C8D7/xoxsecret4455"
    url = json_url(http_server, secret_path, query="-code=${HOOK_TOKEN}")
    config = write(
        tmp_path,
        f"""
        [providers.alerts]
        type = "apprise"
        urls = ["{url}"]
        """,
    )

    shown = run_cli(tmp_path, "--config", str(config), "config", "--json", env=SECRETS)
    sent = run_cli(
        tmp_path, "-vv", "--config", str(config), "send", "--to", "team", "--text", "hi",
        env=SECRETS,
    )  # fmt: skip

    assert shown.returncode == 0, shown.stderr
    (shown_url,) = json.loads(shown.stdout)["providers"]["alerts"]["urls"]
    assert shown_url.endswith("/***?-code=***")
    assert sent.returncode == 0, sent.stderr
    (request,) = http_server.requests
    assert request.path.startswith(secret_path)  # it did reach the server
    for done in (shown, sent):
        output = done.stdout + done.stderr
        assert "xoxsecret4455" not in output and "B0A9C8D7" not in output
        assert TOKEN not in output
    assert "DEBUG" in sent.stderr or "debug" in sent.stderr.lower()

"""Settings: bad ones refused with the setting (and file and key) named; secrets never shown."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from local_http import HttpServer
from webhook_helpers import SECRET_PATH

from broadcastio import ConfigurationError, Message, ValidationError
from broadcastio.config import orchestrator_from_config
from broadcastio_webhook import WebhookProvider, WebhookSettings

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize(
    ("settings", "field", "words"),
    [
        ({"url": "ftp://example.com/x"}, "url", "http:// or https://"),
        ({"url": "hooks.example.com/x"}, "url", "http:// or https://"),
        ({"url": "https://"}, "url", "must name a host"),
        ({"url": "https://example.com/a b"}, "url", "spaces"),
        ({"url": "https://ntfy.sh/", "format": "ntfy"}, "url", "topic"),
        ({"format": "telegram"}, "format", "one of json, slack"),
        ({"format": "template"}, "template", "needs template"),
        ({"template": "{}"}, "template", 'only used with format = "template"'),
        ({"headers": {"Content-Type": "text/plain"}}, "headers", "set by the provider"),
        ({"headers": {"Idempotency-Key": "x"}}, "headers", "set by the provider"),
        ({"headers": {"Bad Name": "x"}}, "headers", "not a valid header name"),
        ({"headers": {"X-A": "one\r\nX-B: two"}}, "headers", "one line"),
        ({"headers": {"X-A": "snow ☃"}}, "headers", "Latin-1"),
        ({"signing_secret": "short"}, "signing_secret", "at least 16"),
        ({"timeout": 0}, "timeout", "> 0"),
        ({"timeout": 601}, "timeout", "<= 600"),
        ({"health_timeout": -1}, "health_timeout", "> 0"),
    ],
)
def test_bad_settings_name_the_setting(settings: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings(**settings)
    assert caught.value.field == field
    assert words in caught.value.message


def test_a_bad_url_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookSettings(url="gopher://hooks.example.com/services/T/B/s3cr3t")
    assert "s3cr3t" not in str(caught.value)


def test_secrets_are_not_in_the_repr(server: HttpServer) -> None:
    provider = WebhookProvider(
        url=server.url + SECRET_PATH,
        headers={"Authorization": "Bearer tk_live"},
        signing_secret="0123456789abcdef0123",
    )
    with provider:
        shown = repr(provider) + repr(provider.settings)
    for secret in ("s3cr3t", "tk_live", "0123456789abcdef"):
        assert secret not in shown


def write(tmp_path: Path, text: str, name: str = "broadcastio.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_config_error_names_the_file_and_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[providers.team-slack]\ntype = "webhook"\nformat = "slack"\n'
        'url = "ftp://hooks.slack.com/services/T/B/s3cr3t"\n',
    )
    with pytest.raises(ConfigurationError) as caught:
        orchestrator_from_config(path, environ={})
    text = str(caught.value)
    assert str(path) in text and "providers.team-slack.url" in text
    assert "s3cr3t" not in text


def test_headers_take_secrets_from_the_environment(tmp_path: Path, server: HttpServer) -> None:
    path = write(
        tmp_path,
        f'[providers.ntfy]\ntype = "webhook"\nformat = "ntfy"\nurl = "{server.url}/alerts"\n'
        'headers = { Authorization = "Bearer ${NTFY_TOKEN}" }\n',
    )
    with orchestrator_from_config(path, environ={"NTFY_TOKEN": "tk_from_env"}) as orchestrator:
        assert orchestrator.send(Message("ops", "Backup failed")).success
    post = next(request for request in server.requests if request.method == "POST")
    assert post.header("Authorization") == "Bearer tk_from_env"
    assert post.json()["topic"] == "alerts"


# -- through the installed command ----------------------------------------------------


def test_the_command_refuses_a_bad_setting_with_one_line(tmp_path: Path, run_cli: Run) -> None:
    path = write(
        tmp_path,
        '[providers.team-slack]\ntype = "webhook"\nformat = "slack"\n'
        'url = "https://hooks.slack.com/services/T/B/s3cr3t"\nsigning_secret = "short"\n',
    )
    done = run_cli("--config", str(path), "send", "--to", "ops", "--text", "x")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("broadcastio: error: ")
    assert str(path) in line and "providers.team-slack.signing_secret" in line
    assert "s3cr3t" not in done.stderr and "Traceback" not in done.stderr


def test_plugins_lists_the_webhook_type(run_cli: Run) -> None:
    done = run_cli("plugins", "--json")
    assert done.returncode == 0, done.stderr
    assert "webhook" in done.stdout and "broadcastio-webhook" in done.stdout


def test_config_hides_the_url_path_and_the_header_values(tmp_path: Path, run_cli: Run) -> None:
    path = write(
        tmp_path,
        '[providers.team-slack]\ntype = "webhook"\nformat = "slack"\n'
        'url = "https://hooks.slack.com/services/T/B/${SLACK_PART}"\n'
        'headers = { Authorization = "Bearer ${TOKEN}" }\n',
    )
    env = {"SLACK_PART": "s3cr3t", "TOKEN": "tk_live"}
    done = run_cli("--config", str(path), "config", "--json", env=env)
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)["providers"]["team-slack"]
    assert table["url"] == "https://hooks.slack.com/***"
    assert table["headers"] == {"Authorization": "***"}
    assert "s3cr3t" not in done.stdout and "tk_live" not in done.stdout


def test_health_and_send_through_the_command(
    tmp_path: Path, run_cli: Run, server: HttpServer
) -> None:
    path = write(
        tmp_path,
        '[orchestrator]\norder = ["hook"]\n\n'
        f'[providers.hook]\ntype = "webhook"\nurl = "{server.url}{SECRET_PATH}"\n'
        'signing_secret = "${SIGNING_SECRET}"\n',
    )
    env = {"SIGNING_SECRET": "whsec-0123456789abcdef"}
    health = run_cli("--config", str(path), "health", "--json", env=env)
    assert health.returncode == 0, health.stderr
    (entry,) = json.loads(health.stdout)["providers"]
    assert entry["provider"] == "hook" and entry["ready"] is True
    assert entry["details"]["url"] == server.url + "/***"
    sent = run_cli(
        "--config",
        str(path),
        "send",
        "--to",
        "ops",
        "--text",
        "Backup failed",
        "--title",
        "db1",
        "--json",
        env=env,
    )
    assert sent.returncode == 0, sent.stderr
    result = json.loads(sent.stdout)
    assert result["provider"] == "hook"
    post = next(request for request in server.requests if request.method == "POST")
    assert post.json()["title"] == "db1" and post.json()["recipient"] == "ops"
    assert post.header("Broadcastio-Signature") is not None
    for output in (health.stdout, health.stderr, sent.stdout, sent.stderr):
        assert "s3cr3t" not in output


def test_a_failed_send_through_the_command_hides_the_url(tmp_path: Path, run_cli: Run) -> None:
    path = write(
        tmp_path,
        '[orchestrator]\norder = ["hook"]\n\n'
        f'[providers.hook]\ntype = "webhook"\nurl = "http://127.0.0.1:9{SECRET_PATH}"\n',
    )
    done = run_cli("--config", str(path), "-vv", "send", "--to", "ops", "--text", "x", "--json")
    assert done.returncode == 1, done.stderr
    assert "s3cr3t" not in done.stdout + done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "PROVIDER_UNAVAILABLE"


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ('headers = "Authorization: Bearer x"', "headers", "expected a table of header names"),
        ("headers = { X-Count = 5 }", "headers", "the value of X-Count must be a string"),
        ("url = 5", "url", "expected str"),
        ('format = "slack"\ntemplate = "{}"', "template", "only used with"),
    ],
)
def test_mistyped_settings_in_a_file_name_the_key(
    tmp_path: Path, line: str, key: str, words: str
) -> None:
    path = write(tmp_path, f'[providers.hook]\ntype = "webhook"\n{line}\n')
    with pytest.raises(ConfigurationError) as caught:
        orchestrator_from_config(path, environ={})
    text = str(caught.value)
    assert f"providers.hook.{key}" in text and str(path) in text
    assert words in text


@pytest.mark.parametrize("with_id", [False, True])
def test_a_contacts_webhook_url_is_not_logged_by_send_verbose(
    tmp_path: Path, run_cli: Run, server: HttpServer, with_id: bool
) -> None:
    # A per-contact instance: the URL comes from --to webhook=..., and -vv logs the
    # recipient; its secret path must not appear there (or anywhere in the output).
    path = write(
        tmp_path, '[orchestrator]\norder = ["hooks"]\n\n[providers.hooks]\ntype = "webhook"\n'
    )
    to = ("--to", "id=team-a") if with_id else ()
    done = run_cli(
        "--config", str(path), "-vv", "send", *to, "--to", f"webhook={server.url}{SECRET_PATH}",
        "--text", "x",
    )
    assert done.returncode == 0, done.stderr
    assert "s3cr3t" not in done.stdout + done.stderr
    assert f"{server.url}/***" in done.stderr

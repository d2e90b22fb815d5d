"""The Telegram provider through the installed ``broadcastio`` script, with the fake Bot API.

Every command's stdout and stderr are searched for the token: it is in the
configuration (through ``${VAR}``) and in every request path.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fake_telegram import FakeTelegram, Scripted
from telegram_helpers import OTHER_TOKEN, TOKEN

SCRIPT = Path(sys.executable).with_name("broadcastio")


def run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }
    environment.update(
        HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), **(env or {})
    )
    done = subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    for secret in (TOKEN, OTHER_TOKEN):
        assert secret not in done.stdout + done.stderr, (args, done.stdout, done.stderr)
    return done


def two_bots(tmp_path: Path, fake: FakeTelegram) -> Path:
    """A chain of two Telegram instances: a bot whose token was revoked, then a good one."""
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [orchestrator]
            order = ["old-bot", "alerts-bot"]

            [providers.old-bot]
            type = "telegram"
            token = "${{OLD_BOT_TOKEN}}"
            api_base = "{fake.api_base}"

            [providers.alerts-bot]
            type = "telegram"
            token = "${{ALERTS_BOT_TOKEN}}"
            api_base = "{fake.api_base}"
            parse_mode = "HTML"
            """
        )
    )
    return config


SECRETS = {"OLD_BOT_TOKEN": OTHER_TOKEN, "ALERTS_BOT_TOKEN": TOKEN}


def test_a_chain_of_two_bots_delivers_through_the_second_when_the_first_token_is_refused(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = two_bots(tmp_path, fake)

    done = run(
        tmp_path,
        "-vv", "--config", str(config), "send", "--json",
        "--to", "telegram=-1001234567890", "--title", "Disk <alert>", "--text", "db-1 is full",
        env=SECRETS,
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "alerts-bot"
    (sent,) = fake.messages
    assert sent.chat_id == "-1001234567890"
    assert sent.text == "<b>Disk &lt;alert&gt;</b>\ndb-1 is full"
    # -vv showed urllib3's request lines, with the token redacted.
    assert "/bot<token>/" in done.stderr


def test_health_shows_each_instance_and_a_refused_token_is_not_ready(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = two_bots(tmp_path, fake)

    done = run(tmp_path, "-vv", "--config", str(config), "health", "--json", env=SECRETS)

    assert done.returncode == 0, done.stderr
    reports = {report["provider"]: report for report in json.loads(done.stdout)["providers"]}
    assert reports["alerts-bot"]["ready"] is True
    assert reports["alerts-bot"]["details"]["bot"] == "@fake987654321_bot"
    assert reports["old-bot"]["ready"] is False
    assert reports["old-bot"]["details"]["code"] == "AUTHENTICATION_FAILED"


def test_a_rate_limited_send_reports_the_wait_and_exits_with_failure(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = two_bots(tmp_path, fake)
    fake.script("sendMessage", Scripted(429, "Too Many Requests: retry after 9", retry_after=9))

    done = run(
        tmp_path,
        "--config", str(config), "send", "--json", "--provider", "alerts-bot",
        "--to", "42", "--text", "hi",
        env=SECRETS,
    )

    assert done.returncode != 0
    error = json.loads(done.stdout)["error"]
    assert error["details"]["retry_after"] == 9


def test_config_shows_the_instances_with_the_token_redacted(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    config = two_bots(tmp_path, fake)

    done = run(tmp_path, "--config", str(config), "config", "--json", env=SECRETS)

    assert done.returncode == 0, done.stderr
    providers = json.loads(done.stdout)["providers"]
    assert providers["alerts-bot"]["type"] == "telegram"
    assert providers["alerts-bot"]["api_base"] == fake.api_base
    assert providers["alerts-bot"]["token"] != TOKEN


def test_plugins_lists_the_telegram_type(tmp_path: Path) -> None:
    done = run(tmp_path, "plugins", "--json")

    assert done.returncode == 0, done.stderr
    assert "telegram" in done.stdout


def test_a_bad_setting_is_one_line_naming_the_file_and_the_key(tmp_path: Path) -> None:
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        textwrap.dedent(
            """
            [orchestrator]
            order = ["tg"]

            [providers.tg]
            type = "telegram"
            token = "${BOT_TOKEN}"
            parse_mode = "markdownv2"
            """
        )
    )

    done = run(
        tmp_path, "--config", str(config), "send", "--to", "42", "--text", "hi",
        env={"BOT_TOKEN": TOKEN},
    )

    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("broadcastio: error: ")
    assert str(config) in line or "broadcastio.toml" in line
    assert "providers.tg.parse_mode" in line
    assert "MarkdownV2" in line


def test_a_malformed_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = tmp_path / "broadcastio.toml"
    secret = "123456/../../oops?x=1"
    config.write_text(
        textwrap.dedent(
            """
            [providers.tg]
            type = "telegram"
            token = "${BOT_TOKEN}"
            """
        )
    )

    done = run(
        tmp_path, "--config", str(config), "send", "--provider", "tg", "--to", "42",
        "--text", "hi", env={"BOT_TOKEN": secret},
    )

    assert done.returncode == 2
    assert "providers.tg.token" in done.stderr
    assert "BotFather" in done.stderr
    assert secret not in done.stderr + done.stdout


def test_the_token_from_the_environment_is_enough(fake: FakeTelegram, tmp_path: Path) -> None:
    done = run(
        tmp_path, "send", "--json", "--to", "telegram=42", "--text", "hi",
        env={"BROADCASTIO_TELEGRAM_TOKEN": TOKEN, "BROADCASTIO_TELEGRAM_API_BASE": fake.api_base},
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "telegram"
    assert [message.text for message in fake.messages] == ["hi"]

"""EmailSettings: ranges, addresses, the environment, and secrets kept out of output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ConfigurationError, DeliveryResult, ErrorCode, Message, ValidationError
from broadcastio_email import EmailProvider, EmailSettings

SCRIPT = Path(sys.executable).with_name("broadcastio")
BASE: dict[str, Any] = {"host": "smtp.example.com", "from_address": "ops@example.com"}


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536)))
def test_a_port_out_of_range_is_refused_naming_port(port: int) -> None:
    with pytest.raises(ValidationError, match=r"port must be between 1 and 65535") as caught:
        EmailSettings(**BASE, port=port)
    assert caught.value.field == "port"


@given(st.integers(min_value=1, max_value=65535))
def test_every_port_in_range_is_accepted(port: int) -> None:
    assert EmailSettings(**BASE, port=port).effective_port == port


@given(
    st.one_of(
        st.floats(max_value=0, allow_nan=False),
        st.floats(min_value=600.0001, allow_infinity=False),
        st.just(float("nan")),
    )
)
def test_a_timeout_out_of_range_is_refused(timeout: float) -> None:
    with pytest.raises(ValidationError, match="timeout must be"):
        EmailSettings(**BASE, timeout=timeout)


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_the_port_defaults_to_the_security_modes_port(security: str, port: int) -> None:
    assert EmailSettings(**BASE, security=security).effective_port == port


def test_an_unknown_security_mode_names_the_modes() -> None:
    with pytest.raises(ValidationError, match="security must be one of starttls, tls, none"):
        EmailSettings(**BASE, security="ssl")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("from_address", "not an address", "from_address must be an email address"),
        ("from_address", "ops@example.com\r\nBcc: all@example.com", "must be one line"),
        ("reply_to", "@example.com", "reply_to must be an email address"),
        ("host", "smtp.example.com:587", "the port goes in port"),
        ("list_unsubscribe", "unsubscribe@example.com", "mailto: and/or http"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        EmailSettings(**{**BASE, field: value})
    assert caught.value.field == field


def test_a_password_is_not_in_the_settings_repr_nor_in_its_own_error() -> None:
    assert "hunter2" not in repr(EmailSettings(**BASE, username="u", password="hunter2"))
    with pytest.raises(ValidationError) as caught:
        EmailSettings(**BASE, password="")
    assert caught.value.field == "password"


def test_login_needs_both_username_and_password() -> None:
    with pytest.raises(ConfigurationError, match="not password"):
        EmailProvider(**BASE, username="ops@example.com")


def test_host_and_from_address_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="BROADCASTIO_EMAIL_HOST"):
        EmailProvider(from_address="ops@example.com")
    with pytest.raises(ConfigurationError, match="BROADCASTIO_EMAIL_FROM"):
        EmailProvider(host="smtp.example.com")


ENVIRONMENT = {
    "BROADCASTIO_EMAIL_HOST": "smtp.env.example",
    "BROADCASTIO_EMAIL_PORT": "2525",
    "BROADCASTIO_EMAIL_USERNAME": "env-user",
    "BROADCASTIO_EMAIL_PASSWORD": "env-secret",
    "BROADCASTIO_EMAIL_FROM": "Env <env@example.com>",
}


@pytest.mark.parametrize("host", [None, "smtp.env.example", "SMTP.Env.Example."])
def test_the_environment_fills_settings_for_its_own_server(host: str | None) -> None:
    resolved = EmailSettings(host=host).with_environment(ENVIRONMENT)

    assert resolved.host == (host or "smtp.env.example")  # given explicitly: wins
    assert (resolved.port, resolved.username, resolved.password) == (2525, "env-user", "env-secret")
    assert resolved.from_address == "Env <env@example.com>"
    assert resolved.with_environment(ENVIRONMENT) == resolved
    assert EmailProvider.configured_by_environment(ENVIRONMENT)
    assert not EmailProvider.configured_by_environment({"BROADCASTIO_EMAIL_PASSWORD": "x"})


@given(
    username=st.sampled_from([None, "billing@vendor.example"]),
    environment=st.dictionaries(
        st.sampled_from(sorted(ENVIRONMENT)), st.sampled_from(["", "x"]), min_size=1
    ).map(
        lambda chosen: {
            name: ENVIRONMENT[name] if value else "" for name, value in chosen.items()
        }
    ),
)
def test_settings_for_another_server_take_nothing_from_the_environment(
    username: str | None, environment: dict[str, str]
) -> None:
    # The environment's account belongs to its server: a password exported for
    # one mail service is never handed to another's ([providers.billing]).
    settings = EmailSettings(host="smtp.vendor.example", username=username)

    assert settings.with_environment(environment) == settings


def test_an_instance_on_another_server_never_gets_the_environment_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError) as raised:
        EmailProvider(
            host="smtp.vendor.example", username="billing", from_address="b@vendor.example"
        )

    assert raised.value.field == "password"
    assert "env-secret" not in str(raised.value)


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ValidationError, match="BROADCASTIO_EMAIL_PORT must be a port number"):
        EmailSettings().with_environment(
            {"BROADCASTIO_EMAIL_HOST": "smtp.env.example", "BROADCASTIO_EMAIL_PORT": "smtp"}
        )


def test_an_instance_name_shows_in_results_whether_passed_or_assigned() -> None:
    passed = EmailProvider(**BASE, name="alerts-mail")
    assigned = EmailProvider(**BASE)
    assigned.name = "billing-mail"  # type: ignore[misc]

    for provider, name in ((passed, "alerts-mail"), (assigned, "billing-mail")):
        result: DeliveryResult = provider.send(Message("+6281234567", "hi"))
        assert result.provider == name
        assert result.error is not None and result.error.code is ErrorCode.INVALID_RECIPIENT
        provider.close()
        assert provider.health().provider == name
    assert EmailProvider.name == "email"


def test_broadcastio_config_shows_the_email_settings_with_the_password_masked(
    tmp_path: Path,
) -> None:
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        textwrap.dedent(
            """
            [orchestrator]
            order = ["email"]

            [providers.email]
            host = "smtp.example.com"
            username = "ops@example.com"
            password = "${MAIL_APP_PASSWORD}"
            from_address = "Ops <ops@example.com>"
            """
        )
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }
    environment.update(MAIL_APP_PASSWORD="abcd-efgh-ijkl-mnop", HOME=str(tmp_path))

    done = subprocess.run(
        [str(SCRIPT), "--config", str(config), "config", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "abcd-efgh-ijkl-mnop" not in done.stdout + done.stderr
    shown = json.dumps(json.loads(done.stdout))
    assert "smtp.example.com" in shown
    assert '"***"' in shown


def test_a_bad_email_setting_in_a_config_file_is_one_error_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        '[orchestrator]\norder = ["email"]\n\n[providers.email]\nhost = "smtp.example.com"\n'
        'from_address = "ops@example.com"\nport = 70000\n'
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }

    done = subprocess.run(
        [str(SCRIPT), "--config", str(config), "send", "--to", "a@example.org", "--text", "hi"],
        capture_output=True,
        text=True,
        env={**environment, "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=60,
    )

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("broadcastio: error:")
    assert "port" in lines[0] and "65535" in lines[0]
    assert "Traceback" not in done.stderr


def test_listing_plugins_shows_email_without_importing_smtp_or_tls(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from broadcastio.cli.main import main\n"
        "code = main(['plugins', '--json'])\n"
        "sys.stderr.write(repr(sorted(m for m in ('smtplib', 'ssl', 'apprise') "
        "if m in sys.modules)))\n"
        "raise SystemExit(code)\n"
    )
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("BROADCASTIO_")
    }

    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**environment, "HOME": str(tmp_path)},
        cwd=tmp_path,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    listed = {plugin["name"]: plugin for plugin in json.loads(done.stdout)["plugins"]}
    assert listed["email"]["providers"] == ["email"]
    assert listed["email"]["distribution"] == "broadcastio-email"
    assert done.stderr.strip().splitlines()[-1] == "[]"

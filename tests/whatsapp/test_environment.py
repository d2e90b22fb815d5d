"""Settings from BROADCASTIO_WHATSAPP_* are resolved once, and shown as what is used."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ValidationError
from broadcastio_whatsapp import API_KEY_ENV, BASE_URL_ENV, WhatsAppProvider, WhatsAppSettings

URL = "http://10.1.2.3:3999"


def whatsapp_settings(completed) -> dict:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)["providers"]["whatsapp"]


def test_config_shows_the_environment_values_with_the_key_masked(run_broadcastio) -> None:
    shown = whatsapp_settings(
        run_broadcastio("config", "--json", env={API_KEY_ENV: "s3cret-key", BASE_URL_ENV: URL})
    )
    assert shown["base_url"] == URL
    assert shown["api_key"] == "***"
    assert "s3cret-key" not in json.dumps(shown)


def test_config_shows_the_default_address_and_no_key_when_nothing_is_set(run_broadcastio) -> None:
    shown = whatsapp_settings(run_broadcastio("config", "--json"))
    assert shown["base_url"] == "http://127.0.0.1:3000"
    assert shown["api_key"] is None
    assert shown["timeout"] == [5.0, 40.0]


def test_config_file_values_win_over_the_environment(run_broadcastio, tmp_path) -> None:
    (tmp_path / "broadcastio.toml").write_text(
        '[providers.whatsapp]\nbase_url = "http://127.0.0.1:4000"\n'
    )
    shown = whatsapp_settings(
        run_broadcastio("config", "--json", env={API_KEY_ENV: "k", BASE_URL_ENV: URL})
    )
    assert shown["base_url"] == "http://127.0.0.1:4000"
    assert shown["api_key"] == "***"


def test_a_bad_environment_url_is_a_one_line_error_naming_the_variable(run_broadcastio) -> None:
    completed = run_broadcastio("config", env={BASE_URL_ENV: "localhost:3000"})
    assert completed.returncode == 2
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("broadcastio: error: ")
    assert f"{BASE_URL_ENV} must be an http(s) URL" in line


def test_a_bad_environment_key_names_the_variable() -> None:
    with pytest.raises(ValidationError, match=f"{API_KEY_ENV} must not have surrounding blanks"):
        WhatsAppSettings().with_environment({API_KEY_ENV: "key\n"})


@given(
    explicit_url=st.sampled_from([None, "http://127.0.0.1:4000"]),
    explicit_key=st.sampled_from([None, "from-settings"]),
    environment_url=st.sampled_from(["", URL]),
    environment_key=st.sampled_from(["", "from-env"]),
)
def test_explicit_beats_environment_beats_default(
    explicit_url, explicit_key, environment_url, environment_key
) -> None:
    environ = {BASE_URL_ENV: environment_url, API_KEY_ENV: environment_key}
    resolved = WhatsAppSettings(base_url=explicit_url, api_key=explicit_key).with_environment(
        environ
    )
    assert resolved.base_url == (explicit_url or environment_url or "http://127.0.0.1:3000")
    assert resolved.api_key == (explicit_key or environment_key or None)
    # Resolving twice changes nothing: the provider may resolve settings it was
    # handed already resolved.
    assert resolved.with_environment(environ) == resolved


@pytest.mark.parametrize(
    ("environ", "configured"),
    [
        ({}, False),
        ({API_KEY_ENV: ""}, False),
        ({BASE_URL_ENV: "", API_KEY_ENV: ""}, False),
        ({API_KEY_ENV: "k"}, True),
        ({BASE_URL_ENV: URL}, True),
        ({"BROADCASTIO_OTHER": "x"}, False),
    ],
)
def test_configured_by_environment(environ, configured) -> None:
    assert WhatsAppProvider.configured_by_environment(environ) is configured


def test_an_orchestrator_built_with_an_environment_uses_it(monkeypatch) -> None:
    from broadcastio.config import build_orchestrator, parse_config

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    environ = {API_KEY_ENV: "from-given-env", BASE_URL_ENV: URL}
    orchestrator = build_orchestrator(parse_config({}), order=["whatsapp"], environ=environ)
    (provider,) = orchestrator.providers
    assert provider.base_url == URL
    assert provider.settings.api_key == "from-given-env"
    provider.close()


@given(
    explicit_url=st.sampled_from(
        [
            None,
            "http://127.0.0.1:4000",
            "http://localhost:3000",
            "http://[::1]:3000",
            URL,
            "HTTP://10.1.2.3:3999/",
            "https://bridge.example.com",
            "http://10.1.2.3:4000",
        ]
    ),
    environment_url=st.sampled_from(["", URL]),
)
def test_the_environment_key_goes_only_to_its_bridge_or_one_on_this_machine(
    explicit_url, environment_url
) -> None:
    # [providers.wa-remote] base_url = "https://bridge.example.com" without an
    # api_key must not send the environment's key to that bridge.
    environ = {BASE_URL_ENV: environment_url, API_KEY_ENV: "from-env"}
    resolved = WhatsAppSettings(base_url=explicit_url).with_environment(environ)

    meant_for = explicit_url is None or explicit_url in (
        "http://127.0.0.1:4000",
        "http://localhost:3000",
        "http://[::1]:3000",
    )
    if environment_url:
        meant_for = meant_for or explicit_url in (URL, "HTTP://10.1.2.3:3999/")
    assert (resolved.api_key == "from-env") is meant_for
    assert resolved.with_environment(environ) == resolved


def test_config_shows_no_environment_key_for_a_remote_bridge_of_its_own(
    run_broadcastio, tmp_path
) -> None:
    (tmp_path / "broadcastio.toml").write_text(
        '[providers.wa-remote]\ntype = "whatsapp"\nbase_url = "https://bridge.example.com"\n'
    )
    completed = run_broadcastio("config", "--json", env={API_KEY_ENV: "s3cret-key"})

    assert completed.returncode == 0, completed.stderr
    providers = json.loads(completed.stdout)["providers"]
    assert providers["wa-remote"]["api_key"] is None
    assert providers["whatsapp"]["api_key"] == "***"  # the default instance, the default bridge

"""Reading the file: every kind of mistake names the file, the key path and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio import ConfigurationError, RateLimit, RetryPolicy
from broadcastio.config import load_config, parse_config

VALID = """
[orchestrator]
order = ["whatsapp", "dummy"]
health_ttl = 5
require_healthy = true

[orchestrator.retry]
max_attempts = 2
backoff = "fixed"
base_delay = 0.5

[providers.whatsapp]
api_key = "${WA_KEY}"
base_url = "http://${WA_HOST:-127.0.0.1}:3000"
rate_limit = "20/minute"

[providers.whatsapp.retry]
max_attempts = 3
retry_on = ["TIMEOUT"]

[providers.dummy]
fail_first = 1
rate_limit = { rate = "5/second", burst = 2 }
"""


def test_a_valid_file(write_config: Callable[..., Path]) -> None:
    path = write_config(VALID)
    config = load_config(path, environ={"WA_KEY": "k"})
    assert config.source.path == path
    assert config.orchestrator.order == ("whatsapp", "dummy")
    assert config.orchestrator.health_ttl == 5
    assert config.orchestrator.require_healthy is True
    assert config.orchestrator.retry == RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.5)
    whatsapp = config.providers["whatsapp"]
    assert whatsapp.settings == {"api_key": "k", "base_url": "http://127.0.0.1:3000"}
    assert whatsapp.retry == RetryPolicy(max_attempts=3, retry_on=["TIMEOUT"])
    assert config.rate_limits == {
        "whatsapp": RateLimit(20, 60),
        "dummy": RateLimit(5, 1, burst=2),
    }
    assert config.providers["dummy"].settings == {"fail_first": 1}


def test_secrets_are_redacted_in_to_dict(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(VALID), environ={"WA_KEY": "k"})
    shown = config.to_dict()
    assert shown["providers"]["whatsapp"]["api_key"] == "***"
    assert "k" not in str(shown["providers"]["whatsapp"]["api_key"])
    assert shown["providers"]["whatsapp"]["rate_limit"] == "20/minute"
    assert config.to_dict(redact_secrets=False)["providers"]["whatsapp"]["api_key"] == "k"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        # unknown keys, at every level
        ("colour = 1", "colour", "unknown key; expected one of: orchestrator, providers"),
        ("[orchestrator]\nordr = []", "orchestrator.ordr", "unknown key; expected one of"),
        ("[orchestrator.retry]\nattempts = 2", "orchestrator.retry.attempts", "unknown key"),
        ("[providers.dummy.retry]\ntries = 2", "providers.dummy.retry.tries", "unknown key"),
        (
            "[providers.dummy]\nrate_limit = { rate = '1/s', size = 2 }",
            "providers.dummy.rate_limit.size",
            "unknown key",
        ),
        # wrong types
        ("[orchestrator]\nhealth_ttl = 'soon'", "orchestrator.health_ttl", "expected float"),
        ("[orchestrator]\nhealth_ttl = -1", "orchestrator.health_ttl", "must be >= 0"),
        ("[orchestrator]\nrequire_healthy = 'no'", "orchestrator.require_healthy", "expected bool"),
        ("[orchestrator]\norder = 'whatsapp'", "orchestrator.order", "expected a list"),
        ("[orchestrator]\norder = [1]", "orchestrator.order[0]", "expected str"),
        ("orchestrator = 3", "orchestrator", "expected a table, got an integer"),
        ("[providers]\ndummy = 'on'", "providers.dummy", "expected a table, got a string"),
        ("[providers.dummy]\nretry = 2", "providers.dummy.retry", "expected a table"),
        ("[orchestrator.retry]\nmax_attempts = '3'", "orchestrator.retry.max_attempts", "int"),
        # bad values
        (
            "[orchestrator.retry]\nbackoff = 'expo'",
            "orchestrator.retry.backoff",
            "expected one of 'none', 'fixed', 'exponential', got 'expo'",
        ),
        (
            "[providers.dummy.retry]\nretry_on = ['TIMOUT']",
            "providers.dummy.retry.retry_on[0]",
            "'TIMOUT' is not an error code",
        ),
        (
            "[orchestrator.retry]\nbase_delay = 5\nmax_delay = 1",
            "orchestrator.retry",
            "max_delay (1.0) must be >= base_delay (5.0)",
        ),
        ("[providers.dummy]\nrate_limit = 'fast'", "providers.dummy.rate_limit", "'20/minute'"),
        ("[providers.dummy]\nrate_limit = 20", "providers.dummy.rate_limit", "must be text"),
        # environment
        ("[providers.dummy]\nname = '${NOT_SET}'", "providers.dummy.name", "NOT_SET is not set"),
    ],
)
def test_errors_name_file_key_and_expectation(
    write_config: Callable[..., Path], text: str, key: str, expected: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})
    message = caught.value.message
    assert message.startswith(f"{path}: {key}: "), message
    assert expected in message
    assert caught.value.details["key"] == key


def test_invalid_toml_names_the_file_and_line(write_config: Callable[..., Path]) -> None:
    path = write_config("[orchestrator]\norder = = []\n")
    with pytest.raises(ConfigurationError, match=rf"^{path}: invalid TOML: .*line"):
        load_config(path)


def test_an_unreadable_file_is_a_configuration_error(write_config: Callable[..., Path]) -> None:
    path = write_config("")
    path.write_bytes(b"\xff\xfe[orchestrator]")
    with pytest.raises(ConfigurationError, match=rf"^{path}: "):
        load_config(path)


def test_an_empty_file_means_defaults(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(""))
    assert config.orchestrator.order is None
    assert config.providers == {}


def test_parse_config_takes_a_dict() -> None:
    config = parse_config({"providers": {"dummy": {"latency": 0.1}}})
    assert config.providers["dummy"].settings == {"latency": 0.1}
    with pytest.raises(ConfigurationError, match=r"^configuration: providers.dummy.retry"):
        parse_config({"providers": {"dummy": {"retry": []}}})

"""Reading the file: every kind of mistake names the file, the key path and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
        ("[orchestrator]\nhealth_ttl = -1", "orchestrator.health_ttl", "between 0 and 86400"),
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
            "orchestrator.retry.max_delay",
            "max_delay (1.0) must be >= base_delay (5.0)",
        ),
        # out of the documented ranges (docs/configuration.md)
        ("[orchestrator]\nhealth_ttl = 86401", "orchestrator.health_ttl", "between 0 and 86400"),
        (
            "[orchestrator.retry]\nmax_attempts = 101",
            "orchestrator.retry.max_attempts",
            "max_attempts must be between 1 and 100, got 101",
        ),
        (
            "[providers.dummy.retry]\nmax_attempts = 0",
            "providers.dummy.retry.max_attempts",
            "between 1 and 100",
        ),
        (
            "[orchestrator.retry]\nbase_delay = 1e6",
            "orchestrator.retry.base_delay",
            "base_delay must be between 0 and 86400",
        ),
        (
            "[providers.dummy.retry]\nmax_delay = 86400.5",
            "providers.dummy.retry.max_delay",
            "max_delay must be between 0 and 86400",
        ),
        (
            "[providers.dummy]\nrate_limit = '2000000/second'",
            "providers.dummy.rate_limit",
            "rate limit count must be > 0 and <= 1000000",
        ),
        (
            "[providers.dummy]\nrate_limit = '1/2d'",
            "providers.dummy.rate_limit",
            "rate limit period (seconds) must be > 0 and <= 86400",
        ),
        (
            "[providers.dummy]\nrate_limit = { rate = '1/s', burst = 10001 }",
            "providers.dummy.rate_limit",
            "rate limit burst must be between 1 and 10000, got 10001",
        ),
        # integers beyond TOML's 64 bits, which tomllib reads anyway
        (
            "[orchestrator]\nhealth_ttl = 1" + "0" * 400,
            "orchestrator.health_ttl",
            "integer out of range: TOML integers are 64-bit (-2**63 to 2**63-1), "
            "got an integer of 401 digits",
        ),
        (
            "[providers.dummy]\nlatency = 9223372036854775808",
            "providers.dummy.latency",
            "integer out of range",
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


@pytest.mark.parametrize(
    "document",
    [
        "a = " + "[" * 10_000 + "]" * 10_000,
        "a = " + "{ b = " * 10_000 + "1" + " }" * 10_000,
        "[providers.dummy]\nx = " + "[" * 2_000 + "]" * 2_000,
    ],
    ids=["arrays", "inline-tables", "arrays-in-a-provider"],
)
def test_deep_nesting_is_a_configuration_error_naming_the_file(
    write_config: Callable[..., Path], document: str
) -> None:
    # tomllib recurses per level: this used to escape as a RecursionError.
    path = write_config(document)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert caught.value.message == (
        f"{path}: invalid TOML: arrays or tables nested too deeply to read "
        "(a configuration needs at most 32 levels)"
    )


@pytest.mark.parametrize("depth", [28, 29, 30, 200])
def test_nesting_that_tomllib_reads_is_limited_to_32_levels(
    write_config: Callable[..., Path], depth: int
) -> None:
    # The top-level table, providers and providers.dummy are three levels already.
    path = write_config("[providers.dummy]\nx = " + "[" * depth + "]" * depth)
    if depth + 3 <= 32:
        assert load_config(path).providers["dummy"].settings["x"] is not None
        return
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    message = caught.value.message
    assert message.startswith(f"{path}: providers.dummy.x[0][0]")
    assert message.endswith(": nested more than 32 levels deep; no setting needs that many")


def test_parse_config_refuses_a_deeply_nested_dict() -> None:
    # The Python entry point gets the same check; the check itself does not recurse.
    data: dict[str, object] = {}
    inner = data
    for _ in range(50_000):
        inner["x"] = inner = {}
    with pytest.raises(ConfigurationError, match=r"^configuration: x\.x\.x.*nested more than 32"):
        parse_config(data)


def test_an_integer_of_thousands_of_digits_is_a_configuration_error(
    write_config: Callable[..., Path],
) -> None:
    # Python refuses to read it (a ValueError that is not a TOMLDecodeError).
    path = write_config("[orchestrator]\nhealth_ttl = " + "9" * 5_000)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert caught.value.message == (
        f"{path}: invalid TOML: an integer has thousands of digits; TOML integers are 64-bit"
    )


@given(st.one_of(st.floats(max_value=-0.001), st.floats(min_value=86400.001)))
def test_health_ttl_outside_its_range_is_refused(ttl: float) -> None:
    with pytest.raises(ConfigurationError, match=r"^configuration: orchestrator\.health_ttl: "):
        parse_config({"orchestrator": {"health_ttl": ttl}})


@given(st.floats(min_value=0, max_value=86400))
def test_health_ttl_inside_its_range_is_accepted(ttl: float) -> None:
    assert parse_config({"orchestrator": {"health_ttl": ttl}}).orchestrator.health_ttl == ttl


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

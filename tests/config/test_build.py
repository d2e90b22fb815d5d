"""From a file to a working orchestrator through the installed plugins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio import ConfigurationError, Message, Orchestrator, RateLimit, RetryPolicy
from broadcastio.config import load_config, resolved_providers

REPO = Path(__file__).resolve().parents[2]


def test_the_example_file_is_valid() -> None:
    """broadcastio.example.toml at the repository root builds a working orchestrator."""
    example = REPO / "broadcastio.example.toml"
    environ = {"BROADCASTIO_WHATSAPP_API_KEY": "example-key"}
    orchestrator = Orchestrator.from_config(example, environ=environ)
    assert [p.name for p in orchestrator.providers] == ["whatsapp"]
    assert orchestrator.timeout == 120
    assert orchestrator.rate_limits == {"whatsapp": RateLimit(20, 60)}
    shown = resolved_providers(load_config(example, environ=environ), environ=environ)
    assert shown["whatsapp"]["api_key"] == "***"


def test_no_file_and_no_environment_means_no_provider_is_configured() -> None:
    with pytest.raises(ConfigurationError, match="^no provider is configured: "):
        Orchestrator.from_config(environ={})


def test_without_order_the_configured_real_providers_are_used_by_priority(
    write_config: Callable[..., Path],
) -> None:
    path = write_config("[providers.dummy]\nlatency = 0\n[providers.whatsapp]\n")
    orchestrator = Orchestrator.from_config(path, environ={})
    assert [p.name for p in orchestrator.providers] == ["whatsapp"]
    assert orchestrator.rate_limits == {}


def test_file_settings_reach_the_orchestrator_and_providers(
    write_config: Callable[..., Path], clock: object
) -> None:
    path = write_config(
        """
        [orchestrator]
        order = ["dummy"]
        require_healthy = true
        [orchestrator.retry]
        max_attempts = 4
        [providers.dummy]
        fail_first = 2
        rate_limit = "10/second"
        [providers.whatsapp]
        rate_limit = "1/minute"
        [providers.whatsapp.retry]
        max_attempts = 9
        """
    )
    orchestrator = Orchestrator.from_config(path, environ={}, clock=clock)
    assert orchestrator.require_healthy is True
    # whatsapp is configured but not in the chain: its limit and policy are left out.
    assert orchestrator.rate_limits == {"dummy": RateLimit(10, 1)}
    result = orchestrator.send(Message("+15550001", "hi"), trace=True)
    assert result.success
    assert result.trace is not None and len(result.trace.attempts) == 3


def test_keyword_arguments_override_the_file(write_config: Callable[..., Path]) -> None:
    path = write_config("[orchestrator]\nrequire_healthy = true\norder = ['whatsapp']\n")
    orchestrator = Orchestrator.from_config(
        path, environ={}, order=["dummy"], require_healthy=False
    )
    assert [p.name for p in orchestrator.providers] == ["dummy"]
    assert orchestrator.require_healthy is False


def test_file_retry_table_beats_the_providers_own_policy(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(
        """
        [providers.whatsapp]
        retry_policy = { max_attempts = 2 }
        [providers.whatsapp.retry]
        max_attempts = 5
        """
    )
    orchestrator = Orchestrator.from_config(path, environ={})
    policies = {p.name: orchestrator._policies[p.name] for p in orchestrator.providers}
    assert policies["whatsapp"] == RetryPolicy(max_attempts=5)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[providers.dummy]\nfail_frist = 1", "providers.dummy.fail_frist", "unknown setting"),
        ("[providers.dummy]\nfail_first = 'x'", "providers.dummy.fail_first", "expected int"),
        ("[providers.dummy]\nfail_first = -1", "providers.dummy.fail_first", "must be between 0"),
        ("[providers.whatsapp]\ntimeout = 's'", "providers.whatsapp.timeout", "expected a list"),
        ("[providers.sms]\nfrom = 'x'", "providers.sms", "no installed plugin provides 'sms'"),
        ("[orchestrator]\norder = ['sms']", "orchestrator.order", "unknown provider 'sms'"),
    ],
)
def test_provider_errors_name_file_and_key(
    write_config: Callable[..., Path], text: str, key: str, expected: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_config(path, environ={})
    assert caught.value.message.startswith(f"{path}: {key}: "), caught.value.message
    assert expected in caught.value.message


def test_unknown_setting_lists_the_known_ones(write_config: Callable[..., Path]) -> None:
    path = write_config("[providers.dummy]\nfail_frist = 1")
    with pytest.raises(ConfigurationError, match="expected one of: fail_first, .*rate_limit"):
        Orchestrator.from_config(path, environ={})


def test_resolved_providers_show_defaults_and_redact(write_config: Callable[..., Path]) -> None:
    path = write_config("[providers.whatsapp]\napi_key = 'hunter2'\nrate_limit = '2/s'\n")
    shown = resolved_providers(load_config(path, environ={}), environ={})
    assert shown["whatsapp"]["api_key"] == "***"
    assert shown["whatsapp"]["rate_limit"] == "2/second"
    assert shown["whatsapp"]["pool_size"] == 10  # a default, filled in
    assert shown["dummy"]["fail_first"] == 0
    assert "hunter2" not in repr(shown)

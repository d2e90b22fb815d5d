"""Provider instances in a configuration file: ``[providers.NAME]`` with ``type``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio import ConfigurationError, Message, Orchestrator, RateLimit
from broadcastio.config import load_config, parse_config, resolved_providers

TWO_DUMMIES = """
[orchestrator]
order = ["primary", "backup"]

[providers.primary]
type = "dummy"
fail_first = 2
retry = { max_attempts = 3 }

[providers.backup]
type = "dummy"
rate_limit = "50/second"
"""


def test_type_is_an_orchestration_key_not_a_setting(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(TWO_DUMMIES), environ={})
    primary = config.providers["primary"]
    assert primary.type == "dummy"
    assert "type" not in primary.settings and primary.settings == {"fail_first": 2}
    # A file written before instances existed has no type: the table's name is the type.
    assert parse_config({"providers": {"dummy": {}}}).providers["dummy"].type is None
    # Shown back in the file's own shape.
    assert config.to_dict()["providers"]["backup"] == {"type": "dummy", "rate_limit": "50/second"}


def test_two_instances_of_one_type_with_their_own_retry_and_rate_limit(
    write_config: Callable[..., Path], clock: object
) -> None:
    orchestrator = Orchestrator.from_config(write_config(TWO_DUMMIES), environ={}, clock=clock)
    assert [provider.name for provider in orchestrator.providers] == ["primary", "backup"]
    assert orchestrator.rate_limits == {"backup": RateLimit(50, 1)}
    result = orchestrator.send(Message("+15550100", "hi"), trace=True)
    # primary's own policy retries it past its two failures; backup is never needed.
    assert result.success and result.provider == "primary"
    assert result.trace is not None
    assert [attempt.provider for attempt in result.trace.attempts] == ["primary"] * 3


def test_unknown_type_names_the_file_the_key_path_and_the_available_types(
    write_config: Callable[..., Path],
) -> None:
    path = write_config('[providers.alerts-mail]\ntype = "emial"\nhost = "smtp.example.com"\n')
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_config(path, environ={})
    error = caught.value
    assert error.source == str(path)
    (problem,) = error.problems
    assert problem.key_path == ("providers", "alerts-mail", "type")
    assert {"dummy", "whatsapp"} <= set(error.details["available"])
    assert error.details["unknown_types"] == {"alerts-mail": "emial"}
    # The one line a command-line user reads holds all three.
    assert error.message.startswith(f"{path}: providers.alerts-mail.type: unknown provider type")
    assert "available types: " in error.message


@pytest.mark.parametrize(
    ("value", "shown"), [("5", "an integer"), ('""', "an empty string"), ("[]", "list")]
)
def test_a_type_that_is_not_a_name_is_refused_when_the_file_is_read(
    write_config: Callable[..., Path], value: str, shown: str
) -> None:
    path = write_config(f"[providers.alerts]\ntype = {value}\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})
    assert caught.value.key_path == ("providers", "alerts", "type")
    assert caught.value.source == str(path)
    assert shown in caught.value.problem


def test_a_bad_setting_of_an_instance_is_placed_at_the_instances_table(
    write_config: Callable[..., Path],
) -> None:
    path = write_config('[providers.backup]\ntype = "dummy"\nlatency = -1\n')
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_config(path, environ={}, order=["backup"])
    (problem,) = caught.value.problems
    assert problem.key_path == ("providers", "backup", "latency")
    assert caught.value.details["provider"] == "backup"
    assert caught.value.source == str(path)


def test_a_name_setting_disagreeing_with_the_instance_is_placed_at_it(
    write_config: Callable[..., Path],
) -> None:
    path = write_config('[providers.backup]\ntype = "dummy"\nname = "spare"\n')
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_config(path, environ={}, order=["backup"])
    assert caught.value.key_path == ("providers", "backup", "name")
    assert caught.value.source == str(path)


def test_resolved_providers_lists_instances_with_their_type(
    write_config: Callable[..., Path],
) -> None:
    shown = resolved_providers(load_config(write_config(TWO_DUMMIES), environ={}), environ={})
    assert shown["primary"]["type"] == "dummy" and shown["primary"]["fail_first"] == 2
    assert shown["primary"]["retry"]["max_attempts"] == 3
    assert shown["backup"]["rate_limit"] == "50/second"
    # Types without a table are still there as their default instance.
    assert shown["whatsapp"]["type"] == "whatsapp"
    assert shown["dummy"]["type"] == "dummy"


def test_implicit_chain_uses_instances_with_tables_that_are_not_test_doubles(
    write_config: Callable[..., Path],
) -> None:
    path = write_config(
        """
        [providers.wa-sales]
        type = "whatsapp"
        base_url = "http://127.0.0.1:9"
        [providers.wa-support]
        type = "whatsapp"
        base_url = "http://127.0.0.1:10"
        [providers.spare]
        type = "dummy"
        """
    )
    with Orchestrator.from_config(path, environ={}) as orchestrator:
        names = [provider.name for provider in orchestrator.providers]
        urls = [provider.base_url for provider in orchestrator.providers]  # type: ignore[attr-defined]
    assert names == ["wa-sales", "wa-support"]
    assert urls == ["http://127.0.0.1:9", "http://127.0.0.1:10"]

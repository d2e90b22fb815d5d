"""Provider instances in Python: several providers of one type, each under its own name."""

from __future__ import annotations

import pytest
from broadcastio_dummy import DummyProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcastio import (
    ConfigurationError,
    ErrorCode,
    Message,
    Orchestrator,
    RateLimit,
    RetryPolicy,
)

MESSAGE = Message("+15550100", "disk full")
TYPES = {"dummy", "whatsapp"}  # the bundled types; other installed plugins may add more


def test_two_dummy_instances_fall_back_from_one_to_the_other() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["first", "second"],
        settings={
            "first": {"type": "dummy", "fail_first": 5},
            "second": {"type": "dummy"},
        },
    )
    first, second = orchestrator.providers
    assert isinstance(first, DummyProvider) and isinstance(second, DummyProvider)
    assert (first.name, second.name) == ("first", "second")
    result = orchestrator.send(MESSAGE, trace=True)
    assert result.success and result.provider == "second"
    assert result.providers_tried == ("first", "second")
    assert result.trace is not None
    assert [attempt.provider for attempt in result.trace.attempts] == ["first", "second"]
    assert first.sent == [] and second.sent == [MESSAGE]


def test_retry_policies_rate_limits_and_health_are_per_instance() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["sick", "flaky", "steady"],
        settings={
            "sick": {"type": "dummy", "healthy": False},
            "flaky": {"type": "dummy", "fail_first": 2},
            "steady": {"type": "dummy"},
        },
        retry_policies={"flaky": RetryPolicy(max_attempts=3)},
        rate_limits={"steady": "5/second"},
    )
    assert orchestrator.rate_limits == {"steady": RateLimit(5, 1)}
    result = orchestrator.send(MESSAGE, trace=True)
    assert result.success and result.provider == "flaky"
    assert result.trace is not None
    # Only the instance whose settings say unhealthy is skipped, under its own name.
    assert [health.provider for health in result.trace.skipped] == ["sick"]
    # flaky's own policy (3 attempts) applies to flaky alone.
    assert [attempt.provider for attempt in result.trace.attempts] == ["flaky"] * 3
    by_name = {health.provider: health.ready for health in orchestrator.health()}
    assert by_name == {"sick": False, "flaky": True, "steady": True}


def test_an_instance_can_be_named_in_order_next_to_the_types_default_instance() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["dummy", "backup"], settings={"backup": {"type": "dummy", "latency": 0.0}}
    )
    assert [provider.name for provider in orchestrator.providers] == ["dummy", "backup"]
    # The type's class keeps its name: naming an instance never renames the class.
    assert DummyProvider.name == "dummy"


def test_unknown_type_is_an_error_with_its_key_and_the_available_types() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["alerts"], settings={"alerts": {"type": "emial"}})
    error = caught.value
    (problem,) = error.problems
    assert problem.key_path == ("alerts", "type")
    assert error.details["unknown_types"] == {"alerts": "emial"}
    assert TYPES <= set(error.details["available"])
    assert "unknown provider type 'emial'; available types: " in problem.problem


@pytest.mark.parametrize("value", ["", 5, None, ["dummy"]])
def test_a_type_that_is_not_a_name_is_refused_at_the_type_key(value: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["alerts"], settings={"alerts": {"type": value}})
    assert [problem.key_path for problem in caught.value.problems] == [("alerts", "type")]


def test_an_instance_may_not_take_the_name_of_another_type() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["whatsapp"], settings={"whatsapp": {"type": "dummy"}})
    assert [problem.key_path for problem in caught.value.problems] == [("whatsapp", "type")]


def test_a_type_key_naming_the_tables_own_type_changes_nothing() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["dummy"], settings={"dummy": {"type": "dummy", "fail_first": 1}}
    )
    (provider,) = orchestrator.providers
    assert provider.name == "dummy" and provider.settings.fail_first == 1


@pytest.mark.parametrize("name", ["bad name", "-leading-dash", "a/b", "ünï"])
def test_an_instance_name_must_be_usable_on_the_command_line(name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins([name], settings={name: {"type": "dummy"}})
    (problem,) = caught.value.problems
    assert problem.key_path == (name,)
    assert problem.problem.startswith(f"instance name {name!r} must start with a letter or digit")


def test_a_dummy_name_setting_that_disagrees_with_the_instance_name_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(
            ["backup"], settings={"backup": {"type": "dummy", "name": "other"}}
        )
    assert caught.value.field == "name"
    assert caught.value.details["provider"] == "backup"
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["dummy"], settings={"dummy": {"name": "other"}})
    assert caught.value.field == "name" and caught.value.details["provider"] == "dummy"


def test_a_dummy_name_setting_that_agrees_is_kept() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["backup"], settings={"backup": {"type": "dummy", "name": "backup"}}
    )
    (provider,) = orchestrator.providers
    assert provider.name == "backup" and provider.settings.name == "backup"
    # Built directly, the dummy still names itself from its setting.
    assert DummyProvider(name="standalone").name == "standalone"


def test_bad_settings_of_an_instance_name_the_instance() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["backup"], settings={"backup": {"type": "dummy", "nope": 1}})
    assert caught.value.details["provider"] == "backup"
    assert caught.value.details["unknown_settings"] == ["nope"]


def test_an_instance_is_listed_once_in_an_order() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["a", "a"], settings={"a": {"type": "dummy"}})
    assert caught.value.field == "order" and caught.value.details["provider"] == "a"


def test_an_unknown_name_in_order_lists_instances_and_types() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(["nope"], settings={"backup": {"type": "dummy"}})
    assert caught.value.field == "order"
    assert {"backup", *TYPES} <= set(caught.value.details["available"])


def test_without_order_every_instance_with_a_table_is_configured_but_test_doubles() -> None:
    settings = {
        "wa-2": {"type": "whatsapp", "base_url": "http://127.0.0.1:9"},
        "spare": {"type": "dummy"},
    }
    orchestrator = Orchestrator.from_plugins(settings=settings, environ={})
    assert [provider.name for provider in orchestrator.providers] == ["wa-2"]
    orchestrator.close()
    # The environment configures the type's default instance, beside the table's.
    environ = {"BROADCASTIO_WHATSAPP_BASE_URL": "http://127.0.0.1:9"}
    orchestrator = Orchestrator.from_plugins(settings=settings, environ=environ)
    assert [provider.name for provider in orchestrator.providers] == ["wa-2", "whatsapp"]
    orchestrator.close()


def test_only_test_double_instances_configure_nothing() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Orchestrator.from_plugins(settings={"spare": {"type": "dummy"}}, environ={})
    assert caught.value.code is ErrorCode.NO_PROVIDERS


_NAME_START = st.sampled_from("abcxyzABCXYZ0189")
_NAME_REST = st.text(alphabet="abcxyz09_.-", max_size=20)


@settings(max_examples=40, deadline=None)
@given(name=st.builds(lambda head, tail: head + tail, _NAME_START, _NAME_REST))
def test_any_valid_instance_name_delivers_under_that_name(name: str) -> None:
    if name in TYPES:
        return
    orchestrator = Orchestrator.from_plugins([name], settings={name: {"type": "dummy"}})
    result = orchestrator.send(MESSAGE, trace=True)
    assert result.success and result.provider == name
    assert result.trace is not None
    assert [attempt.provider for attempt in result.trace.attempts] == [name]
    (health,) = orchestrator.health()
    assert health.provider == name

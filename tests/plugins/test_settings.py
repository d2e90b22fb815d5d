"""Provider settings: structured by cattrs into the provider's settings type."""

from __future__ import annotations

import pytest

from broadcastio import ConfigurationError, ErrorCode, Message, Orchestrator


def test_settings_configure_the_provider() -> None:
    orchestrator = Orchestrator.from_plugins(
        ["dummy"], settings={"dummy": {"fail_first": 1, "fail_code": "TIMEOUT", "latency": 0}}
    )
    (provider,) = orchestrator.providers
    assert provider.settings.fail_first == 1
    assert provider.settings.fail_code is ErrorCode.TIMEOUT
    result = orchestrator.send(Message("+1555", "hi"))
    assert result.error.code is ErrorCode.TIMEOUT


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"fail_frist": 1}, "provider 'dummy'.*unknown field.*fail_frist"),
        ({"fail_first": "1"}, "provider 'dummy'.*setting fail_first: expected int, got str"),
        ({"healthy": "no"}, "provider 'dummy'.*setting healthy: expected bool"),
        ({"latency": True}, "provider 'dummy'.*setting latency: expected float, got bool"),
        ({"fail_code": "NOPE"}, "provider 'dummy'.*setting fail_code"),
        ({"fail_first": -1}, "provider 'dummy'.*fail_first must be between 0 and 1000000"),
    ],
)
def test_bad_settings_name_provider_and_field(settings: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        Orchestrator.from_plugins(["dummy"], settings={"dummy": settings})
    assert info.value.details["provider"] == "dummy"


def test_missing_required_setting_is_named(install_distribution) -> None:
    install_distribution(
        "bio-keyed",
        {"keyed": "bio_keyed"},
        {
            "bio_keyed": """
        import attrs
        from broadcastio import DeliveryResult, MessageProvider, ProviderHealth, hookimpl

        @attrs.frozen
        class KeyedSettings:
            api_key: str
            region: str = "eu"

        class Keyed(MessageProvider):
            name = "keyed"
            settings_type = KeyedSettings
            def __init__(self, settings):
                self.settings = settings
            def send(self, message):
                return DeliveryResult.delivered(self.name)
            def health(self):
                return ProviderHealth(self.name, True)

        @hookimpl
        def register_providers(register):
            register(Keyed)
    """
        },
    )
    with pytest.raises(
        ConfigurationError, match="provider 'keyed'.*setting api_key: required field missing"
    ):
        Orchestrator.from_plugins(["keyed"])
    orchestrator = Orchestrator.from_plugins(["keyed"], settings={"keyed": {"api_key": "k"}})
    assert orchestrator.providers[0].settings.region == "eu"


def test_settings_for_unknown_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the plugins the message is checked for; others may be installed.
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "dummy, whatsapp, email")
    with pytest.raises(
        ConfigurationError,
        match="unknown provider.*'smtp'.*available providers: dummy, email, whatsapp",
    ):
        Orchestrator.from_plugins(settings={"smtp": {"host": "x"}})


def test_settings_must_be_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="must be a table/dict"):
        Orchestrator.from_plugins(settings={"dummy": ["fail_first", 1]})  # type: ignore[dict-item]


def test_provider_without_settings_type_rejects_settings(
    install_distribution, provider_module
) -> None:
    install_distribution(
        "bio-plain", {"plain": "bio_plain"}, {"bio_plain": provider_module("plain")}
    )
    with pytest.raises(ConfigurationError, match="provider 'plain' takes no settings, got: colour"):
        Orchestrator.from_plugins(["plain"], settings={"plain": {"colour": "red"}})


def test_provider_constructor_failure_is_a_configuration_error(install_distribution) -> None:
    install_distribution(
        "bio-grumpy",
        {"grumpy": "bio_grumpy"},
        {
            "bio_grumpy": """
        from broadcastio import MessageProvider, hookimpl
        class Grumpy(MessageProvider):
            name = "grumpy"
            def __init__(self):
                raise OSError("no config file")
            def send(self, message): ...
            def health(self): ...
        @hookimpl
        def register_providers(register):
            register(Grumpy)
    """
        },
    )
    with pytest.raises(ConfigurationError, match="provider 'grumpy' could not be created: OSError"):
        Orchestrator.from_plugins(["grumpy"])


def test_settings_of_providers_left_out_of_order_are_still_checked() -> None:
    with pytest.raises(ConfigurationError, match="provider 'whatsapp'.*setting timeout"):
        Orchestrator.from_plugins(["dummy"], settings={"whatsapp": {"timeout": "x"}})
    with pytest.raises(ConfigurationError, match="provider 'whatsapp'.*unknown field.*bogus"):
        Orchestrator.from_plugins(["dummy"], settings={"whatsapp": {"bogus": 1}})


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ("abc", "settings must map provider names"),
        ([1], "settings must map provider names"),
        ({1: {}, "x": {}}, "settings keys must be provider names"),
    ],
)
def test_settings_must_be_a_mapping_of_names(settings, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Orchestrator.from_plugins(settings=settings)

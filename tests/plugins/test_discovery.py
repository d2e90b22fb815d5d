"""Entry-point discovery: real distributions, filters, broken plugins, duplicates."""

from __future__ import annotations

import logging
import sys

import pytest

from broadcastio import ConfigurationError, ErrorCode, Message, Orchestrator
from broadcastio.plugins.manager import PluginManager


def test_installed_plugins_are_discovered_via_their_entry_points() -> None:
    from broadcastio_dummy import DummyProvider
    from broadcastio_whatsapp import WhatsAppProvider

    orchestrator = Orchestrator.from_plugins(["whatsapp", "dummy"])
    assert [type(p) for p in orchestrator.providers] == [WhatsAppProvider, DummyProvider]
    (info,) = [i for i in orchestrator.plugin_manager.describe() if i.name == "dummy"]
    assert info.distribution == "broadcastio-dummy"
    assert info.version
    assert info.hooks == ("register_providers",)


def test_without_order_the_chain_is_the_configured_real_providers() -> None:
    from broadcastio_whatsapp import WhatsAppProvider

    # Both have settings, but the dummy is a test double: it joins only when named.
    orchestrator = Orchestrator.from_plugins(settings={"whatsapp": {}, "dummy": {}})
    assert [type(p) for p in orchestrator.providers] == [WhatsAppProvider]


# The plugins these tests name; others installed beside them (telegram, webhook,
# ...) are not their subject and would change the lists they check.
NAMED_PLUGINS = "dummy, whatsapp, email"


def test_nothing_configured_says_how_to_configure_a_provider() -> None:
    with pytest.raises(ConfigurationError) as info:
        Orchestrator.from_plugins(environ={"BROADCASTIO_LOAD_PLUGINS": NAMED_PLUGINS})
    message = info.value.message
    assert message.startswith("no provider is configured: ")
    # The example table is the first installed real type by name.
    assert "--provider NAME" in message and "[providers.whatsapp]" in message
    assert "installed providers: email, whatsapp" in message
    assert "test doubles, used only when named: dummy" in message
    assert info.value.code is ErrorCode.NO_PROVIDERS
    # A settings table does not make a test double part of an unnamed chain.
    with pytest.raises(ConfigurationError, match="no provider is configured"):
        Orchestrator.from_plugins(settings={"dummy": {}}, environ={})


def test_load_plugins_empty_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "")
    with pytest.raises(ConfigurationError, match="no real provider is installed") as info:
        Orchestrator.from_plugins()
    assert info.value.code is ErrorCode.NO_PROVIDERS


def test_load_plugins_allow_list(install_distribution, provider_module, monkeypatch) -> None:
    install_distribution(
        "bio-alpha", {"alpha": "bio_alpha"}, {"bio_alpha": provider_module("alpha")}
    )
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "alpha")
    assert [p.name for p in Orchestrator.from_plugins(settings={"alpha": {}}).providers] == [
        "alpha"
    ]
    with pytest.raises(ConfigurationError, match="unknown provider 'dummy'"):
        Orchestrator.from_plugins(["alpha", "dummy"])
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "bio-alpha, broadcastio-dummy")
    assert [p.name for p in Orchestrator.from_plugins(["alpha", "dummy"]).providers] == [
        "alpha",
        "dummy",
    ]


def test_disabled_plugins_are_never_imported(install_distribution, monkeypatch) -> None:
    install_distribution(
        "bio-explosive",
        {"explosive": "bio_explosive"},
        {"bio_explosive": "raise RuntimeError('imported!')"},
    )
    monkeypatch.setenv("BROADCASTIO_DISABLE_PLUGINS", "explosive")
    orchestrator = Orchestrator.from_plugins(["dummy"])
    assert "bio_explosive" not in sys.modules
    assert orchestrator.plugin_manager.broken_plugins == []
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", f"{NAMED_PLUGINS}, explosive")
    monkeypatch.setenv(
        "BROADCASTIO_DISABLE_PLUGINS", "broadcastio-dummy, whatsapp ,explosive, email"
    )
    with pytest.raises(ConfigurationError, match="no real provider is installed"):
        Orchestrator.from_plugins()


def test_plugin_failing_to_import_is_skipped_and_recorded(
    install_distribution, caplog: pytest.LogCaptureFixture
) -> None:
    install_distribution(
        "bio-broken", {"broken": "bio_broken"}, {"bio_broken": "import no_such_module_here"}
    )
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        orchestrator = Orchestrator.from_plugins(["whatsapp", "dummy"])
    assert [p.name for p in orchestrator.providers] == ["whatsapp", "dummy"]
    (broken,) = orchestrator.plugin_manager.broken_plugins
    assert broken.name == "broken"
    assert broken.distribution == "bio-broken"
    assert "ModuleNotFoundError" in broken.error and "no_such_module_here" in broken.error
    assert "'broken' (from bio-broken) skipped" in caplog.text


def test_plugin_whose_registration_raises_is_skipped(install_distribution) -> None:
    install_distribution(
        "bio-raiser",
        {"raiser": "bio_raiser"},
        {
            "bio_raiser": """
        from broadcastio import hookimpl
        @hookimpl
        def register_providers(register):
            raise RuntimeError("cannot reach licence server")
    """
        },
    )
    orchestrator = Orchestrator.from_plugins(["whatsapp", "dummy"])
    assert [p.name for p in orchestrator.providers] == ["whatsapp", "dummy"]
    (broken,) = orchestrator.plugin_manager.broken_plugins
    assert broken.name == "raiser"
    assert "cannot reach licence server" in broken.error
    assert not orchestrator.plugin_manager.has_plugin("raiser")


def test_plugin_registering_a_non_provider_is_skipped(install_distribution) -> None:
    install_distribution(
        "bio-odd",
        {"odd": "bio_odd"},
        {
            "bio_odd": """
        from broadcastio import hookimpl
        @hookimpl
        def register_providers(register):
            register(dict)
    """
        },
    )
    orchestrator = Orchestrator.from_plugins(["dummy"])
    (broken,) = orchestrator.plugin_manager.broken_plugins
    assert "expects a MessageProvider subclass" in broken.error


def test_misspelled_hook_marks_the_plugin_broken(install_distribution, provider_module) -> None:
    install_distribution(
        "bio-typo",
        {"typo": "bio_typo"},
        {
            "bio_typo": """
        from broadcastio import hookimpl
        @hookimpl
        def register_provider(register):
            pass
    """
        },
    )
    orchestrator = Orchestrator.from_plugins(["dummy"])
    (broken,) = orchestrator.plugin_manager.broken_plugins
    assert broken.name == "typo"
    assert "register_provider" in broken.error


def test_duplicate_provider_names_name_both_distributions(
    install_distribution, provider_module
) -> None:
    install_distribution(
        "bio-one", {"one": "bio_one"}, {"bio_one": provider_module("sms", cls="A")}
    )
    install_distribution(
        "bio-two", {"two": "bio_two"}, {"bio_two": provider_module("sms", cls="B")}
    )
    with pytest.raises(ConfigurationError, match="'sms' is registered twice") as info:
        Orchestrator.from_plugins()
    assert "bio-one" in str(info.value) and "bio-two" in str(info.value)


def test_duplicate_provider_under_the_same_entry_point_name_names_both(
    install_distribution, provider_module
) -> None:
    # The common case: both distributions follow the convention entry point = provider name.
    install_distribution(
        "bio-sms-a", {"sms": "bio_sms_a"}, {"bio_sms_a": provider_module("sms", cls="A")}
    )
    install_distribution(
        "bio-sms-b", {"sms": "bio_sms_b"}, {"bio_sms_b": provider_module("sms", cls="B")}
    )
    with pytest.raises(ConfigurationError, match="'sms' is registered twice") as info:
        Orchestrator.from_plugins(["sms"])
    assert "bio-sms-a" in str(info.value) and "bio-sms-b" in str(info.value)


def test_same_entry_point_name_with_different_providers_loads_both(
    install_distribution, provider_module
) -> None:
    install_distribution("bio-x", {"extra": "bio_x"}, {"bio_x": provider_module("fax")})
    install_distribution("bio-y", {"extra": "bio_y"}, {"bio_y": provider_module("pager")})
    orchestrator = Orchestrator.from_plugins(["fax", "pager"])
    assert [p.name for p in orchestrator.providers] == ["fax", "pager"]
    assert orchestrator.plugin_manager.broken_plugins == []
    assert {i.distribution for i in orchestrator.plugin_manager.describe()} >= {"bio-x", "bio-y"}


def test_same_distribution_twice_on_the_path_loads_once(
    install_distribution, provider_module, tmp_path, monkeypatch
) -> None:
    install_distribution(
        "bio-twice", {"twice": "bio_twice"}, {"bio_twice": provider_module("twice")}
    )
    monkeypatch.syspath_prepend(str(tmp_path / "bio-twice"))
    orchestrator = Orchestrator.from_plugins(["twice"])
    assert orchestrator.plugin_manager.broken_plugins == []
    assert [p.name for p in orchestrator.providers] == ["twice"]


def test_priority_then_name_orders_providers(install_distribution, provider_module) -> None:
    install_distribution(
        "bio-p",
        {"p": "bio_p"},
        {
            "bio_p": provider_module("zeta", priority=10, cls="Z")
            + provider_module("alpha", priority=10, cls="A")
            .replace("@hookimpl", "@hookimpl(specname='register_providers')")
            .replace("def register_providers", "def register_more")
            + provider_module("low", priority=-5, cls="L")
            .replace("@hookimpl", "@hookimpl(specname='register_providers')")
            .replace("def register_providers", "def register_low"),
        },
    )
    configured = {name: {} for name in ("low", "zeta", "dummy", "alpha", "whatsapp")}
    names = [p.name for p in Orchestrator.from_plugins(settings=configured).providers]
    assert names == ["whatsapp", "alpha", "zeta", "low"]  # no dummy: a test double


def test_order_picks_and_orders_by_name(install_distribution, provider_module) -> None:
    install_distribution("bio-q", {"q": "bio_q"}, {"bio_q": provider_module("sms", priority=50)})
    assert [p.name for p in Orchestrator.from_plugins(["dummy", "sms"]).providers] == [
        "dummy",
        "sms",
    ]
    assert [p.name for p in Orchestrator.from_plugins(["dummy"]).providers] == ["dummy"]


def test_unknown_provider_in_order_lists_the_available_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", NAMED_PLUGINS)
    with pytest.raises(
        ConfigurationError,
        match="unknown provider 'whatsap'; available providers: dummy, email, whatsapp",
    ):
        Orchestrator.from_plugins(["whatsap"])
    with pytest.raises(ConfigurationError, match="order must be a list of provider names"):
        Orchestrator.from_plugins("dummy")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="order must be a list of provider names"):
        Orchestrator.from_plugins(5)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="order must hold provider names"):
        Orchestrator.from_plugins([["dummy"]])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="listed twice"):
        Orchestrator.from_plugins(["dummy", "dummy"])


def test_in_process_plugin_needs_no_installation(monkeypatch: pytest.MonkeyPatch) -> None:
    from broadcastio_dummy import DummyProvider

    class Local(DummyProvider):
        name = "local"

    class LocalPlugin:
        @staticmethod
        @__import__("broadcastio").hookimpl
        def register_providers(register):
            register(Local, priority=5)

    monkeypatch.setenv("BROADCASTIO_LOAD_PLUGINS", "")
    manager = PluginManager()
    manager.register(LocalPlugin(), name="local-plugin")
    try:
        orchestrator = Orchestrator.from_plugins(["local"], plugin_manager=manager)
        assert orchestrator.plugin_manager is manager
        assert orchestrator.send(Message("+1555", "hi")).provider == "local"
    finally:
        manager.unregister(name="local-plugin")


def test_orchestrator_kwargs_are_passed_through() -> None:
    orchestrator = Orchestrator.from_plugins(["dummy"], require_healthy=True, health_ttl=None)
    assert orchestrator.require_healthy
    assert orchestrator.health_cache.ttl is None

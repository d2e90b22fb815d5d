"""Provider lifecycle: an orchestrator closes the providers it owns, once, then sends nothing."""

from __future__ import annotations

from pathlib import Path

import logging
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    ConfigurationError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    OrchestrationError,
    Orchestrator,
    ProviderHealth,
    hookimpl,
)
from broadcastio.plugins.manager import PluginManager

MESSAGE = Message("+15551234567", "hello")


class ClosingProvider(MessageProvider):
    """Records every close() call; ``fails`` makes close() raise (after recording it)."""

    def __init__(self, name: str, *, fails: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.fails = fails
        self.closes = 0
        self.sends = 0

    def send(self, message: Message) -> DeliveryResult:
        self.sends += 1
        return DeliveryResult.delivered(self.name, f"{self.name}-{self.sends}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)

    def close(self) -> None:
        self.closes += 1
        if self.fails:
            raise RuntimeError(f"{self.name} lost its socket")


class DuckProvider:
    """Has what a chain needs (name, send, health) and nothing else: no close()."""

    name = "duck"

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.delivered(self.name, "quack")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def close_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "broadcastio"
        and record.levelno == logging.WARNING
        and "while closing" in record.getMessage()
    ]


def test_the_default_close_is_a_no_op_and_with_closes(make_provider) -> None:
    provider = make_provider("a")
    provider.close()
    provider.close()
    assert provider.send(MESSAGE).success  # nothing was released, so it still works

    with ClosingProvider("b") as entered:
        assert entered.send(MESSAGE).success
    assert entered.closes == 1


def test_a_provider_is_closed_when_its_with_block_raises() -> None:
    provider = ClosingProvider("a")
    with pytest.raises(KeyError), provider:
        raise KeyError("boom")
    assert provider.closes == 1


def test_close_closes_every_provider_once(make_provider) -> None:
    first, second = ClosingProvider("a"), ClosingProvider("b")
    orchestrator = Orchestrator([first, second, make_provider("plain")])
    assert not orchestrator.closed
    orchestrator.close()
    orchestrator.close()
    assert orchestrator.closed
    assert (first.closes, second.closes) == (1, 1)


def test_a_provider_whose_close_raises_does_not_keep_the_others_open(caplog) -> None:
    broken, healthy = ClosingProvider("broken", fails=True), ClosingProvider("healthy")
    orchestrator = Orchestrator([broken, healthy])
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        orchestrator.close()  # does not raise
    assert (broken.closes, healthy.closes) == (1, 1)
    (warning,) = close_warnings(caplog)
    assert warning.getMessage() == (
        "provider 'broken' raised RuntimeError while closing: broken lost its socket"
    )


@given(fails=st.lists(st.booleans(), min_size=1, max_size=8), calls=st.integers(1, 4))
def test_every_provider_is_closed_once_whoever_fails(fails: list[bool], calls: int) -> None:
    providers = [ClosingProvider(f"p{index}", fails=fail) for index, fail in enumerate(fails)]
    orchestrator = Orchestrator(providers)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("broadcastio")
    logger.addHandler(handler)
    try:
        for _ in range(calls):
            orchestrator.close()
    finally:
        logger.removeHandler(handler)
    assert [provider.closes for provider in providers] == [1] * len(providers)
    failed = [record.getMessage() for record in records if record.levelno == logging.WARNING]
    assert len(failed) == sum(fails)
    for name, fail in zip((p.name for p in providers), fails, strict=True):
        assert any(f"provider {name!r} raised" in line for line in failed) is fail


def test_closing_from_several_threads_closes_each_provider_once() -> None:
    providers = [ClosingProvider(f"p{index}") for index in range(4)]
    orchestrator = Orchestrator(providers)
    start = threading.Barrier(8)

    def close() -> None:
        start.wait()
        orchestrator.close()

    threads = [threading.Thread(target=close) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [provider.closes for provider in providers] == [1, 1, 1, 1]


def test_a_provider_without_close_is_skipped() -> None:
    closing = ClosingProvider("a")
    orchestrator = Orchestrator([DuckProvider(), closing])  # type: ignore[list-item]
    orchestrator.close()
    assert orchestrator.closed and closing.closes == 1


def test_with_closes_the_orchestrator_on_exit_and_on_error() -> None:
    provider = ClosingProvider("a")
    with Orchestrator([provider]) as orchestrator:
        assert orchestrator.send(MESSAGE).success
        assert provider.closes == 0
    assert orchestrator.closed and provider.closes == 1

    other = ClosingProvider("b")
    with pytest.raises(ValueError, match="the caller's own bug"), Orchestrator([other]):
        raise ValueError("the caller's own bug")
    assert other.closes == 1


def test_send_and_health_after_close_are_refused() -> None:
    provider = ClosingProvider("a")
    orchestrator = Orchestrator([provider])
    orchestrator.close()
    with pytest.raises(OrchestrationError, match="this orchestrator was closed") as info:
        orchestrator.send(MESSAGE)
    assert info.value.code is ErrorCode.NO_PROVIDERS
    assert info.value.details == {"closed": True}
    with pytest.raises(OrchestrationError, match="was closed"):
        orchestrator.health()
    assert provider.sends == 0


class RecordingPlugin:
    """An in-process plugin registering one provider class and remembering its instances."""

    def __init__(self) -> None:
        self.made: list[ClosingProvider] = []
        plugin = self

        class Recorded(ClosingProvider):
            name = "recorded"

            def __init__(self) -> None:
                super().__init__("recorded")
                plugin.made.append(self)

        self.provider_class = Recorded

    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(self.provider_class)


def test_from_plugins_closes_the_providers_it_built_when_construction_fails() -> None:
    plugin = RecordingPlugin()
    manager = PluginManager()
    manager.register(plugin, name="recording")
    with pytest.raises(ConfigurationError, match="timeout"):
        Orchestrator.from_plugins(
            ["recorded"],
            plugin_manager=manager,
            environ={"BROADCASTIO_LOAD_PLUGINS": ""},
            timeout=-1,
        )
    (built,) = plugin.made
    assert built.closes == 1


def test_from_plugins_providers_are_closed_with_the_orchestrator() -> None:
    plugin = RecordingPlugin()
    manager = PluginManager()
    manager.register(plugin, name="recording")
    with Orchestrator.from_plugins(
        ["recorded"], plugin_manager=manager, environ={"BROADCASTIO_LOAD_PLUGINS": ""}
    ) as orchestrator:
        assert orchestrator.send(MESSAGE).provider == "recorded"
    (built,) = plugin.made
    assert built.closes == 1


def test_from_config_closes_the_providers_it_built_when_construction_fails(
    tmp_path: Path,
) -> None:
    plugin = RecordingPlugin()
    manager = PluginManager()
    manager.register(plugin, name="recording")
    config = tmp_path / "broadcastio.toml"
    config.write_text('[orchestrator]\norder = ["recorded"]\n')
    with pytest.raises(ConfigurationError, match="timeout"):
        Orchestrator.from_config(
            config, plugin_manager=manager, environ={"BROADCASTIO_LOAD_PLUGINS": ""}, timeout=-1
        )
    (built,) = plugin.made
    assert built.closes == 1


def test_a_chain_that_fails_half_way_closes_the_providers_already_built() -> None:
    plugin = RecordingPlugin()

    class Refusing(ClosingProvider):
        name = "refusing"

        def __init__(self) -> None:
            raise ConfigurationError("refusing cannot start: no licence")

    class RefusingPlugin:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(Refusing)

    manager = PluginManager()
    manager.register(plugin, name="recording")
    manager.register(RefusingPlugin(), name="refusing")
    with pytest.raises(ConfigurationError, match="no licence"):
        Orchestrator.from_plugins(
            ["recorded", "refusing"],
            plugin_manager=manager,
            environ={"BROADCASTIO_LOAD_PLUGINS": ""},
        )
    (built,) = plugin.made
    assert built.closes == 1

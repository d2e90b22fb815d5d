"""The one hook caller: arguments from the hookspec, every implementation on its own."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio import ConfigurationError, Message, Orchestrator, hookimpl
from broadcastio.plugins import hookspecs
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.registry import collect_providers
from broadcastio_dummy import DummyProvider


def test_hook_argnames_are_the_hookspecs() -> None:
    manager = PluginManager()
    assert manager.hook_argnames("on_attempt") == ("attempt", "message")
    assert manager.hook_argnames("after_send") == ("result", "message")
    assert manager.hook_argnames("register_providers") == ("register",)
    with pytest.raises(LookupError, match="no hook named 'on_attempts'"):
        manager.hook_argnames("on_attempts")


def test_observation_hooks_are_every_hookspec_but_registration_and_listening() -> None:
    from broadcastio.engine.observers import OBSERVATION_HOOKS

    specs = {
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "broadcastio_spec")
    }
    # broadcastio_listening is asked of each plugin, not fired to be observed.
    assert set(OBSERVATION_HOOKS) == specs - {"register_providers", "broadcastio_listening"}
    assert hookspecs.OBSERVATION_HOOKS is OBSERVATION_HOOKS


def _plugin(index: int, names: tuple[str, ...], raises: bool, calls: list[Any]) -> object:
    """A plugin whose on_attempt takes exactly ``names`` and records what it got."""
    source = (
        f"def on_attempt({', '.join(names)}):\n"
        f"    calls.append(({index}, {{{', '.join(f'{n!r}: {n}' for n in names)}}}))\n"
        "    if raises:\n"
        f"        raise RuntimeError('plugin {index} broke')\n"
    )
    namespace: dict[str, Any] = {"calls": calls, "raises": raises}
    exec(source, namespace)

    class Plugin:
        on_attempt = staticmethod(hookimpl(namespace["on_attempt"]))

    return Plugin()


ARGUMENT_SUBSETS = st.sampled_from(
    [(), ("attempt",), ("message",), ("attempt", "message"), ("message", "attempt")]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ARGUMENT_SUBSETS, st.booleans()), max_size=6))
def test_every_implementation_gets_what_it_names_and_failures_stay_its_own(
    caplog: pytest.LogCaptureFixture, shapes: list[tuple[tuple[str, ...], bool]]
) -> None:
    manager = PluginManager()
    calls: list[tuple[int, dict[str, Any]]] = []
    for index, (names, raises) in enumerate(shapes):
        manager.register(_plugin(index, names, raises, calls), name=f"plugin-{index}")
    arguments = {"attempt": object(), "message": object()}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        manager.isolated_hook("on_attempt").call(arguments)
    # pluggy's order (last registered first), each exactly once, raising or not.
    assert [index for index, _ in calls] == list(reversed(range(len(shapes))))
    for index, received in calls:
        names = shapes[index][0]
        assert received == {name: arguments[name] for name in names}
    warned = [r.getMessage() for r in caplog.records if "raised; ignored" in r.getMessage()]
    assert len(warned) == sum(raises for _, raises in shapes)
    for index, (_, raises) in enumerate(shapes):
        label = f"hook on_attempt of plugin 'plugin-{index}'"
        assert any(label in text for text in warned) is raises


def test_on_error_receives_each_failing_implementation() -> None:
    manager = PluginManager()
    calls: list[Any] = []
    manager.register(_plugin(0, ("attempt",), True, calls), name="first")
    manager.register(_plugin(1, (), False, calls), name="second")
    failures: list[tuple[str, str]] = []

    def on_error(implementation: Any, exc: Exception) -> None:
        failures.append((implementation.plugin_name, str(exc)))

    manager.isolated_hook("on_attempt").call({"attempt": 1, "message": 2}, on_error=on_error)
    assert [index for index, _ in calls] == [1, 0]
    assert failures == [("first", "plugin 0 broke")]


def test_a_wrapper_registering_providers_is_skipped_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before the one caller, registration called a wrapper like any other
    # implementation: a generator function that never ran, and no word about it.
    class Wrapping:
        @hookimpl(wrapper=True)
        def register_providers(self, register: Any) -> Any:
            register(DummyProvider)
            return (yield)

    manager = PluginManager()
    manager.register(Wrapping(), name="wrapping")
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        assert collect_providers(manager) == {}
    assert "hook register_providers of plugin 'wrapping' is a wrapper" in caplog.text


def test_registration_credits_each_plugin_and_a_raising_one_is_broken_alone() -> None:
    class Local(DummyProvider):
        name = "local"

    class Offers:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(Local, priority=3)

    class RaisesAfterOffering:
        @hookimpl
        def register_providers(self, register: Any) -> None:
            register(DummyProvider)
            raise RuntimeError("half-way")

    manager = PluginManager()
    manager.register(Offers(), name="offers")
    manager.register(RaisesAfterOffering(), name="raises")
    registrations = collect_providers(manager)
    assert list(registrations) == ["local"]
    assert registrations["local"].plugin == "offers"
    assert registrations["local"].priority == 3
    (broken,) = manager.broken_plugins
    assert broken.name == "raises"
    assert broken.error == "register_providers failed: RuntimeError: half-way"
    assert not manager.has_plugin("raises")


class ReorderedSpecs:
    """A relay whose ``after_send`` spec lists ``message`` first, and no implementations."""

    generation = 0

    def hook_argnames(self, hook_name: str) -> tuple[str, ...]:
        return {"after_send": ("message", "result")}.get(
            hook_name, PluginManager().hook_argnames(hook_name)
        )

    def hook_implementations(self, hook_name: str) -> list[Any]:
        return []


def test_callbacks_take_their_arguments_from_the_relays_hookspec() -> None:
    # A one-argument callback gets the spec's first argument: here the spec
    # comes from the relay, so the message, not a hand-kept list's result.
    seen: list[Any] = []
    orchestrator = Orchestrator(
        [DummyProvider()],
        plugin_manager=ReorderedSpecs(),
        on_success=lambda first: seen.append(first),
    )
    message = Message("+15551234567", "hi")
    orchestrator.send(message)
    assert seen == [message]


def test_a_relay_without_hookspecs_is_refused() -> None:
    class NoSpecs:
        generation = 0

        def hook_implementations(self, hook_name: str) -> list[Any]:
            return []

    with pytest.raises(ConfigurationError, match="plugin_manager must be"):
        Orchestrator([DummyProvider()], plugin_manager=NoSpecs())  # type: ignore[arg-type]

"""Observers: constructor callbacks and plugin hooks fire, and cannot affect delivery."""

from __future__ import annotations

import logging

import pytest

from broadcastio import (
    DeliveryAttempt,
    DeliveryResult,
    ErrorCode,
    Message,
    OrchestrationError,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
    hookimpl,
)


class Recorder:
    """An in-process plugin that records every observation hook."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    @hookimpl
    def before_send(self, message: Message) -> None:
        self.events.append(("before_send", message))

    @hookimpl
    def on_attempt(self, attempt: DeliveryAttempt, message: Message) -> None:
        self.events.append(("on_attempt", (attempt.provider, attempt.attempt, attempt.success)))

    @hookimpl
    def on_health(self, health: ProviderHealth) -> None:
        self.events.append(("on_health", (health.provider, health.ready)))

    @hookimpl
    def after_send(self, result: DeliveryResult, message: Message) -> None:
        self.events.append(("after_send", result.provider))


class Exploding:
    """Every hook raises."""

    @hookimpl
    def before_send(self) -> None:
        raise RuntimeError("before_send broke")

    @hookimpl
    def on_attempt(self) -> None:
        raise RuntimeError("on_attempt broke")

    @hookimpl
    def on_health(self) -> None:
        raise RuntimeError("on_health broke")

    @hookimpl
    def after_send(self) -> None:
        raise RuntimeError("after_send broke")


def test_hooks_fire_in_order(make_provider, message, clock) -> None:
    orchestrator = Orchestrator(
        [make_provider("sick", ready=False), make_provider("p", [ErrorCode.PROVIDER_UNAVAILABLE])],
        retry_policy=RetryPolicy(max_attempts=2),
        clock=clock,
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    orchestrator.send(message)
    assert recorder.events == [
        ("before_send", message),
        ("on_health", ("sick", False)),
        ("on_health", ("p", True)),
        ("on_attempt", ("p", 1, False)),
        ("on_attempt", ("p", 2, True)),
        ("after_send", "p"),
    ]


def test_on_health_fires_only_for_fresh_checks(make_provider, message, clock) -> None:
    orchestrator = Orchestrator([make_provider("p")], clock=clock)
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    orchestrator.send(message)
    orchestrator.send(message)
    assert [e for e in recorder.events if e[0] == "on_health"] == [("on_health", ("p", True))]


def test_constructor_callbacks_fire_alongside_hooks(make_provider, message) -> None:
    seen: list[tuple[str, object]] = []
    orchestrator = Orchestrator(
        [make_provider("bad", [ErrorCode.TIMEOUT]), make_provider("good")],
        on_attempt=lambda attempt, message: seen.append(("attempt", attempt.provider)),
        on_success=lambda result, message: seen.append(("success", result.provider)),
        on_failure=lambda result, message: seen.append(("failure", result.error.code)),
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    orchestrator.send(message)
    assert seen == [("attempt", "bad"), ("attempt", "good"), ("success", "good")]
    assert ("after_send", "good") in recorder.events

    seen.clear()
    failing = Orchestrator(
        [make_provider("bad", [ErrorCode.TIMEOUT])],
        on_failure=lambda result, message: seen.append(("failure", result.error.code)),
    )
    failing.send(message)
    assert seen == [("failure", ErrorCode.TIMEOUT)]


def test_hooks_take_only_the_arguments_they_name(make_provider, message) -> None:
    calls: list[str] = []

    class Minimal:
        @hookimpl
        def on_attempt(self, attempt: DeliveryAttempt) -> None:
            calls.append(attempt.provider)

        @hookimpl
        def after_send(self, message: Message) -> None:
            calls.append(message.recipient)

    orchestrator = Orchestrator([make_provider("p")])
    orchestrator.plugin_manager.register(Minimal())
    orchestrator.send(message)
    assert calls == ["p", message.recipient]


def test_raising_observers_are_logged_and_ignored(
    make_provider, message, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_callback(*_: object) -> None:
        raise ValueError("callback broke")

    orchestrator = Orchestrator(
        [make_provider("bad", [ErrorCode.TIMEOUT]), make_provider("good")],
        on_attempt=broken_callback,
        on_success=broken_callback,
        health_ttl=None,
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(Exploding())
    orchestrator.plugin_manager.register(recorder)
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        result = orchestrator.send(message, trace=True)
    assert result.success and result.provider == "good"
    assert result.providers_tried == ("bad", "good")
    assert len(result.trace.attempts) == 2
    # The well-behaved plugin saw everything despite its neighbours raising.
    assert [e[0] for e in recorder.events] == [
        "before_send",
        "on_health",
        "on_attempt",
        "on_health",
        "on_attempt",
        "after_send",
    ]
    logged = caplog.text
    for text in (
        "callback on_attempt",
        "callback on_success",
        "hook before_send",
        "hook on_attempt",
        "hook on_health",
        "hook after_send",
    ):
        assert text in logged


def test_unregistered_plugins_stop_observing(make_provider, message) -> None:
    orchestrator = Orchestrator([make_provider("p")])
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    orchestrator.send(message)
    count = len(recorder.events)
    orchestrator.plugin_manager.unregister(recorder)
    orchestrator.send(message)
    assert len(recorder.events) == count


def test_after_send_does_not_fire_when_send_raises(make_provider, message) -> None:
    orchestrator = Orchestrator([make_provider("p", ready=False)], require_healthy=True)
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    with pytest.raises(OrchestrationError):
        orchestrator.send(message)
    assert "after_send" not in [e[0] for e in recorder.events]


def test_observers_cannot_mutate_the_result(make_provider, message) -> None:
    def tamper(result: DeliveryResult, message: Message) -> None:
        result.success = False  # type: ignore[misc]

    orchestrator = Orchestrator([make_provider("p")], on_success=tamper)
    assert orchestrator.send(message).success


def test_callbacks_run_first_for_attempts_and_last_after_the_send(make_provider, message) -> None:
    # The order docs/hooks.md promises, now that callbacks are implementations too.
    order: list[str] = []

    class Plugin:
        @hookimpl
        def on_attempt(self) -> None:
            order.append("hook on_attempt")

        @hookimpl
        def after_send(self) -> None:
            order.append("hook after_send")

    orchestrator = Orchestrator(
        [make_provider("p")],
        on_attempt=lambda attempt: order.append("callback on_attempt"),
        on_success=lambda result: order.append("callback on_success"),
        on_failure=lambda result: order.append("callback on_failure"),
    )
    orchestrator.plugin_manager.register(Plugin())
    orchestrator.send(message)
    assert order == [
        "callback on_attempt",
        "hook on_attempt",
        "hook after_send",
        "callback on_success",
    ]


def test_callbacks_are_heard_only_by_their_own_orchestrator(make_provider, message) -> None:
    from broadcastio.plugins.manager import PluginManager

    manager = PluginManager()
    plugins_before = manager.list_name_plugin()
    heard: list[tuple[str, str]] = []
    first = Orchestrator(
        [make_provider("a")],
        plugin_manager=manager,
        on_attempt=lambda attempt: heard.append(("first", attempt.provider)),
        on_success=lambda result: heard.append(("first done", result.provider)),
    )
    second = Orchestrator(
        [make_provider("b")],
        plugin_manager=manager,
        on_attempt=lambda attempt: heard.append(("second", attempt.provider)),
    )
    first.send(message)
    second.send(message)
    assert heard == [("first", "a"), ("first done", "a"), ("second", "b")]
    # Nothing was registered where a third orchestrator on this manager would hear it.
    assert manager.list_name_plugin() == plugins_before

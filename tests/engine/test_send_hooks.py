"""The hooks an observer needs to describe a send completely: what was skipped and why,
waits, the chain, sends that raise, and broadcast runs; plus plugins that are not
listening costing nothing (their implementations are never called)."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest
from pluggy import PluginValidationError

from broadcastio import (
    Contact,
    ErrorCode,
    Message,
    OrchestrationError,
    Orchestrator,
    RetryPolicy,
    hookimpl,
)
from broadcastio.broadcast import broadcast
from broadcastio.engine import observers as observers_module
from broadcastio.plugins.manager import PluginManager
from tests.conftest import FakeClock, ScriptedProvider


class Recorder:
    """Records every observation hook it hears, in order, with what it was given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def _add(self, event: tuple[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    @hookimpl
    def before_send(self, message: Message, providers: tuple[Any, ...]) -> None:
        self._add(("before_send", tuple(p.name for p in providers)))

    @hookimpl
    def on_skip(self, health: Any, message: Message) -> None:
        self._add(("on_skip", (health.provider, health.details.get("reason"))))

    @hookimpl
    def on_wait(self, provider: str, seconds: float, reason: str) -> None:
        self._add(("on_wait", (provider, seconds, reason)))

    @hookimpl
    def on_attempt(self, attempt: Any) -> None:
        self._add(("on_attempt", (attempt.provider, attempt.success)))

    @hookimpl
    def after_send(self, result: Any) -> None:
        self._add(("after_send", result.success))

    @hookimpl
    def on_send_error(self, error: BaseException, message: Message) -> None:
        self._add(("on_send_error", type(error).__name__))


def test_before_send_receives_the_chain_in_order(clock: FakeClock) -> None:
    orchestrator = Orchestrator([ScriptedProvider("a"), ScriptedProvider("b")], clock=clock)
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    orchestrator.send(Message("+15551234567", "hi"))
    assert recorder.events[0] == ("before_send", ("a", "b"))
    assert recorder.names() == ["before_send", "on_attempt", "after_send"]


def test_skipped_providers_are_heard_with_their_reason(clock: FakeClock) -> None:
    class EmailOnly(ScriptedProvider):
        address_kind = "email"

    down = ScriptedProvider("down", ready=False)
    orchestrator = Orchestrator(
        [down, EmailOnly("mail"), ScriptedProvider("phone")], clock=clock
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    result = orchestrator.send(Message(Contact({"phone": "+15551234567"}), "hi"))
    assert result.provider == "phone"
    skips = [event for name, event in recorder.events if name == "on_skip"]
    assert skips == [("down", "scripted"), ("mail", "no email address")]
    # Skips are heard before the attempt that follows them, inside the send.
    assert recorder.names() == ["before_send", "on_skip", "on_skip", "on_attempt", "after_send"]


def test_retry_back_off_and_rate_limit_slots_are_waits(clock: FakeClock) -> None:
    provider = ScriptedProvider("a", [ErrorCode.RATE_LIMITED], retry_after=2.0)
    orchestrator = Orchestrator(
        [provider],
        clock=clock,
        retry_policy=RetryPolicy(
            max_attempts=2, base_delay=0.0, jitter=False, retry_on=[ErrorCode.RATE_LIMITED]
        ),
        rate_limits={"a": "1/second"},
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    assert orchestrator.send(Message("+15551234567", "hi")).success
    waits = [event for name, event in recorder.events if name == "on_wait"]
    # The RATE_LIMITED answer asked for 2 s: the back-off waits that long, and
    # the pause it set is then waited for as a rate-limit slot (what is left of it).
    assert waits[0] == ("a", 2.0, "retry")
    assert all(reason in ("retry", "rate_limit") for _, _, reason in waits)
    assert clock.sleeps == [seconds for _, seconds, _ in waits]


def test_a_rate_limit_slot_wait_is_heard_before_the_sleep(clock: FakeClock) -> None:
    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock, rate_limits={"a": "2/second"})
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    for _ in range(3):
        orchestrator.send(Message("+15551234567", "hi"))
    waits = [event for name, event in recorder.events if name == "on_wait"]
    assert waits and all(reason == "rate_limit" for _, _, reason in waits)
    assert clock.sleeps == [seconds for _, seconds, _ in waits]


def test_a_send_that_raises_fires_on_send_error_not_after_send(clock: FakeClock) -> None:
    orchestrator = Orchestrator(
        [ScriptedProvider("a", ready=False)], clock=clock, require_healthy=True
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    with pytest.raises(OrchestrationError):
        orchestrator.send(Message("+15551234567", "hi"))
    assert recorder.names() == ["before_send", "on_skip", "on_send_error"]
    assert recorder.events[-1] == ("on_send_error", "OrchestrationError")


def test_a_validation_error_before_before_send_fires_neither(clock: FakeClock) -> None:
    class EmailOnly(ScriptedProvider):
        address_kind = "email"

    orchestrator = Orchestrator([EmailOnly("mail")], clock=clock)
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    with pytest.raises(Exception, match="no address any provider"):
        orchestrator.send(Message(Contact({"phone": "+15551234567"}), "hi"))
    assert recorder.events == []


class Sometimes:
    """A plugin that listens only when told to."""

    def __init__(self) -> None:
        self.listening = False
        self.asked = 0
        self.heard: list[str] = []

    @hookimpl
    def broadcastio_listening(self) -> bool:
        self.asked += 1
        return self.listening

    @hookimpl
    def before_send(self) -> None:
        self.heard.append("before_send")

    @hookimpl
    def on_attempt(self) -> None:
        self.heard.append("on_attempt")

    @hookimpl
    def after_send(self) -> None:
        self.heard.append("after_send")


def test_a_plugin_not_listening_is_never_called(clock: FakeClock) -> None:
    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    plugin = Sometimes()
    orchestrator.plugin_manager.register(plugin)
    for _ in range(5):
        orchestrator.send(Message("+15551234567", "hi"))
    assert plugin.heard == []
    # Asked when the hooks were bound, not once per hook per send.
    assert 1 <= plugin.asked <= 2


def test_a_plugin_that_starts_listening_is_called_after_the_recheck(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observers_module, "RECHECK_SECONDS", 0.0)
    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    plugin = Sometimes()
    orchestrator.plugin_manager.register(plugin)
    orchestrator.send(Message("+15551234567", "hi"))
    assert plugin.heard == []
    plugin.listening = True
    orchestrator.send(Message("+15551234567", "hi"))
    assert plugin.heard == ["before_send", "on_attempt", "after_send"]


def test_a_listening_check_that_raises_counts_as_listening(clock: FakeClock) -> None:
    class Broken(Sometimes):
        @hookimpl
        def broadcastio_listening(self) -> bool:
            raise RuntimeError("cannot tell")

    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    plugin = Broken()
    orchestrator.plugin_manager.register(plugin)
    assert orchestrator.send(Message("+15551234567", "hi")).success
    assert plugin.heard == ["before_send", "on_attempt", "after_send"]


def test_broadcastio_listening_is_a_hookspec_pluggy_validates() -> None:
    """A hook like the others: named by the spec (``specname=`` works), checked by
    ``check_pending`` (a misspelling is caught, not silently ignored)."""
    manager = PluginManager()
    assert manager.hook_argnames("broadcastio_listening") == ()

    class Named(Sometimes):
        @hookimpl(specname="broadcastio_listening")
        def idle(self) -> bool:
            return False

    manager.register(Named())
    manager.check_pending()

    class Misspelled:
        @hookimpl
        def broadcastio_listenning(self) -> bool:
            return False

    manager.register(Misspelled())
    with pytest.raises(PluginValidationError, match="broadcastio_listenning"):
        manager.check_pending()


def test_a_listening_hook_under_another_name_is_asked(clock: FakeClock) -> None:
    class Named:
        def __init__(self) -> None:
            self.asked = 0
            self.heard: list[str] = []

        @hookimpl(specname="broadcastio_listening")
        def idle(self) -> bool:
            self.asked += 1
            return False

        @hookimpl
        def before_send(self) -> None:
            self.heard.append("before_send")

    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    plugin = Named()
    orchestrator.plugin_manager.register(plugin)
    orchestrator.send(Message("+15551234567", "hi"))
    assert plugin.heard == [] and plugin.asked >= 1


def test_only_false_means_not_listening(clock: FakeClock) -> None:
    """An implementation that forgot its ``return`` (None) must not silence its plugin."""

    class Forgetful(Sometimes):
        @hookimpl
        def broadcastio_listening(self) -> bool:
            self.asked += 1
            return None  # type: ignore[return-value]

    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    plugin = Forgetful()
    orchestrator.plugin_manager.register(plugin)
    orchestrator.send(Message("+15551234567", "hi"))
    assert plugin.asked >= 1
    assert plugin.heard == ["before_send", "on_attempt", "after_send"]


RUN_VALUE: contextvars.ContextVar[str] = contextvars.ContextVar("run_value", default="unset")


class BroadcastListener:
    """Sets a context variable in before_broadcast and reads it from every send."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.seen_in_sends: set[str] = set()
        self.threads: set[str] = set()
        self._token: contextvars.Token[str] | None = None
        self._lock = threading.Lock()

    @hookimpl
    def before_broadcast(self, broadcast_id: str, run: int, concurrency: int) -> None:
        self.events.append(("start", broadcast_id, run, concurrency))
        self._token = RUN_VALUE.set(f"run of {broadcast_id}")

    @hookimpl
    def before_send(self) -> None:
        with self._lock:
            self.seen_in_sends.add(RUN_VALUE.get())
            self.threads.add(threading.current_thread().name)

    @hookimpl
    def after_broadcast(self, report: Any) -> None:
        self.events.append(("end", report.broadcast_id, report.run, report.delivered))
        assert self._token is not None
        RUN_VALUE.reset(self._token)  # raises if not the context it was set in


def test_broadcast_runs_are_announced_and_their_context_reaches_every_send(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    listener = BroadcastListener()
    orchestrator.plugin_manager.register(listener)
    messages = [Message(f"+1555000{n:04d}", "hi") for n in range(20)]
    report = broadcast(orchestrator, messages, broadcast_id="weekly", concurrency=3)
    assert report.delivered == 20
    assert listener.events == [("start", "weekly", 1, 3), ("end", "weekly", 1, 20)]
    assert listener.seen_in_sends == {"run of weekly"}
    # The first sends go to the worker threads; once sends are seen to be fast,
    # the thread iterating the run makes them itself. The run's context reaches both.
    here = threading.current_thread().name
    assert any(name.startswith("broadcastio-send-") for name in listener.threads)
    assert all(name.startswith("broadcastio-send-") or name == here for name in listener.threads)
    # The thread that iterated the run keeps its own context; reset() did not fail.
    assert RUN_VALUE.get() == "unset"
    assert "raised" not in caplog.text


def test_a_broadcast_that_ends_in_an_exception_still_fires_after_broadcast(
    clock: FakeClock,
) -> None:
    orchestrator = Orchestrator([ScriptedProvider("a")], clock=clock)
    listener = BroadcastListener()
    orchestrator.plugin_manager.register(listener)

    def messages() -> Any:
        yield Message("+15550000001", "hi")
        raise RuntimeError("input broke")

    with pytest.raises(RuntimeError, match="input broke"):
        broadcast(orchestrator, messages(), broadcast_id="broken")
    assert [event[0] for event in listener.events] == ["start", "end"]
    assert listener.events[-1][1] == "broken"


def test_a_retry_without_back_off_is_not_a_wait(clock: FakeClock) -> None:
    flaky = ScriptedProvider("a", [ErrorCode.PROVIDER_UNAVAILABLE])
    orchestrator = Orchestrator(
        [flaky], clock=clock, retry_policy=RetryPolicy(max_attempts=2, backoff="none")
    )
    recorder = Recorder()
    orchestrator.plugin_manager.register(recorder)
    assert orchestrator.send(Message("+15551234567", "hi")).success
    assert "on_wait" not in recorder.names()

"""Constructor callbacks take the arguments their signature accepts, or fail at construction."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import (
    ConfigurationError,
    DeliveryAttempt,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
)


def test_a_one_argument_callback_gets_the_attempt_and_prints(
    make_provider, message, capsys: pytest.CaptureFixture[str]
) -> None:
    # The 0.3.0a2 README's observability example, with logging left unconfigured.
    def log_attempt(attempt):  # type: ignore[no-untyped-def]
        print(attempt.provider, attempt.success)

    Orchestrator([make_provider("wa")], on_attempt=log_attempt).send(message)
    assert capsys.readouterr().out == "wa True\n"


def test_one_argument_lambdas_get_the_result(make_provider, message) -> None:
    seen: list[Any] = []
    orchestrator = Orchestrator(
        [make_provider("bad", [ErrorCode.TIMEOUT]), make_provider("good")],
        on_attempt=lambda a: seen.append(("attempt", a.provider, a.success)),
        on_success=lambda r: seen.append(("success", r.provider)),
        on_failure=lambda r: seen.append(("failure", r.error.code)),
    )
    orchestrator.send(message)
    failing = Orchestrator(
        [make_provider("bad", [ErrorCode.TIMEOUT])],
        on_failure=lambda r: seen.append(("failure", r.error.code)),
    )
    failing.send(message)
    assert seen == [
        ("attempt", "bad", False),
        ("attempt", "good", True),
        ("success", "good"),
        ("failure", ErrorCode.TIMEOUT),
    ]


def test_parameters_named_after_arguments_get_those(make_provider, message) -> None:
    seen: list[Any] = []

    def only_message(message: Message) -> None:
        seen.append(message)

    def swapped(message: Message, attempt: DeliveryAttempt) -> None:
        seen.append((message, attempt.provider))

    def keyword_only(*, result: DeliveryResult) -> None:
        seen.append(result.provider)

    Orchestrator(
        [make_provider("p")], on_attempt=only_message, on_success=keyword_only
    ).send(message)
    Orchestrator([make_provider("q")], on_attempt=swapped).send(message)
    assert seen == [message, "p", (message, "q")]


def test_star_args_and_kwargs_get_everything(make_provider, message) -> None:
    seen: list[Any] = []

    def everything(*args: Any) -> None:
        seen.append(("args", [type(a).__name__ for a in args]))

    def by_name(**kwargs: Any) -> None:
        seen.append(("kwargs", sorted(kwargs)))

    def first_then_rest(first: Any, *rest: Any) -> None:
        seen.append(("rest", type(first).__name__, [type(r).__name__ for r in rest]))

    Orchestrator([make_provider("p")], on_attempt=everything, on_success=by_name).send(message)
    Orchestrator([make_provider("p")], on_success=first_then_rest).send(message)
    assert seen == [
        ("args", ["DeliveryAttempt", "Message"]),
        ("kwargs", ["message", "result"]),
        ("rest", "DeliveryResult", ["Message"]),
    ]


def test_parameters_with_defaults_keep_them(make_provider, message) -> None:
    seen: list[Any] = []

    def with_default(attempt: DeliveryAttempt, label: str = "kept") -> None:
        seen.append((attempt.provider, label))

    def default_before_star(attempt: DeliveryAttempt, label: str = "kept", *rest: Any) -> None:
        seen.append((label, [type(r).__name__ for r in rest]))

    Orchestrator([make_provider("p")], on_attempt=with_default).send(message)
    Orchestrator([make_provider("p")], on_attempt=default_before_star).send(message)
    assert seen == [("p", "kept"), ("kept", ["Message"])]


def test_methods_partials_and_callable_objects(make_provider, message) -> None:
    seen: list[Any] = []

    class Log:
        def attempt(self, attempt: DeliveryAttempt) -> None:
            seen.append(("method", attempt.provider))

        def __call__(self, result: DeliveryResult) -> None:
            seen.append(("object", result.provider))

    def tagged(tag: str, attempt: DeliveryAttempt) -> None:
        seen.append((tag, attempt.provider))

    Orchestrator([make_provider("p")], on_attempt=Log().attempt, on_success=Log()).send(message)
    Orchestrator([make_provider("p")], on_attempt=functools.partial(tagged, "partial")).send(
        message
    )
    assert seen == [("method", "p"), ("object", "p"), ("partial", "p")]


def test_builtins_without_a_signature_get_every_argument(make_provider, message) -> None:
    seen: list[Any] = []
    # Like a C builtin without a signature: it gets every argument, as before.
    Orchestrator([make_provider("p")], on_failure=None, on_success=_Uninspectable(seen)).send(
        message
    )
    assert [type(a).__name__ for a in seen] == ["DeliveryResult", "Message"]


class _Uninspectable:
    """A callable whose signature cannot be read, like some C builtins."""

    def __init__(self, seen: list[Any]) -> None:
        self._seen = seen

    @property
    def __signature__(self) -> Any:
        raise ValueError("no signature found")

    def __call__(self, *args: Any) -> None:
        self._seen.extend(args)


def test_a_callback_needing_more_arguments_is_a_configuration_error(make_provider) -> None:
    def three(a: Any, b: Any, c: Any) -> None:
        raise AssertionError("never called")

    with pytest.raises(ConfigurationError) as caught:
        Orchestrator([make_provider("p")], on_attempt=three)
    text = str(caught.value)
    assert text.startswith("callback on_attempt ")
    assert "three(a: 'Any', b: 'Any', c: 'Any')" in text
    assert "it can receive attempt, message" in text
    assert "nothing for parameter(s) c" in text
    assert caught.value.details["parameters"] == ["c"]


def test_an_unknown_keyword_only_parameter_is_a_configuration_error(make_provider) -> None:
    def needs_level(result: DeliveryResult, *, level: int) -> None:
        raise AssertionError("never called")

    with pytest.raises(ConfigurationError, match=r"callback on_failure .*level"):
        Orchestrator([make_provider("p")], on_failure=needs_level)


def test_a_raising_callback_is_still_only_logged(
    make_provider, message, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(attempt: DeliveryAttempt) -> None:
        raise RuntimeError("observer broke")

    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        result = Orchestrator([make_provider("p")], on_attempt=broken).send(message)
    assert result.success
    assert "callback on_attempt raised" in caplog.text


HOOK_ARGUMENTS = ("attempt", "message")
NAMES = st.sampled_from(["attempt", "message", "a", "b", "c"])


@st.composite
def signatures(draw: st.DrawFn) -> tuple[list[str], bool, bool, list[str], list[str]]:
    """Required positional names, *args?, **kwargs?, keyword-only names, defaulted names."""
    names = draw(st.lists(NAMES, unique=True, max_size=5))
    cut = draw(st.integers(0, len(names)))
    required, rest = names[:cut], names[cut:]
    defaulted_cut = draw(st.integers(0, len(rest)))
    return (
        required,
        draw(st.booleans()),
        draw(st.booleans()),
        rest[defaulted_cut:],
        rest[:defaulted_cut],
    )


@given(signatures())
def test_any_signature_gets_what_the_rule_says_or_is_refused(
    shape: tuple[list[str], bool, bool, list[str], list[str]],
) -> None:
    required, star_args, star_kwargs, keyword_only, defaulted = shape
    parts = list(required) + [f"{name}='default'" for name in defaulted]
    if star_args:
        parts.append("*args")
    elif keyword_only:
        parts.append("*")
    parts += keyword_only
    if star_kwargs:
        parts.append("**kwargs")
    received: list[dict[str, Any]] = []
    source = f"def observer({', '.join(parts)}):\n    received.append(dict(locals()))\n"
    namespace: dict[str, Any] = {"received": received}
    exec(source, namespace)

    # The rule, restated: names first, then required positionals in order, then *args/**kwargs.
    named = [n for n in required + defaulted + keyword_only if n in HOOK_ARGUMENTS]
    left = [n for n in HOOK_ARGUMENTS if n not in named]
    fill = [n for n in required if n not in HOOK_ARGUMENTS]
    refused = len(fill) > len(left) or any(n not in HOOK_ARGUMENTS for n in keyword_only)
    if refused:
        with pytest.raises(ConfigurationError):
            Orchestrator([_Provider()], on_attempt=namespace["observer"])
        return
    Orchestrator([_Provider()], on_attempt=namespace["observer"]).send(MESSAGE)
    (call,) = received
    values = {"attempt": DeliveryAttempt, "message": Message}
    for name in named:
        assert isinstance(call[name], values[name])
    positional_sources = dict(zip(fill, left, strict=False))
    for parameter, argument in positional_sources.items():
        assert isinstance(call[parameter], values[argument])
    remaining = left[len(fill) :]
    for name in defaulted:
        if name not in HOOK_ARGUMENTS:
            assert call[name] == "default"
    if star_args:
        assert [type(v) for v in call["args"]] == [values[n] for n in remaining]
    if star_kwargs:
        expected = {} if star_args else {n: values[n] for n in remaining}
        assert {k: type(v) for k, v in call["kwargs"].items()} == expected


MESSAGE = Message("+15551234567", "hi")


class _Provider(MessageProvider):
    name = "p"

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.delivered(self.name, "id")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)

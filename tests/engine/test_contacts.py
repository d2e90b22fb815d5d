"""The engine and contacts: each provider gets its own address, or is passed over."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcastio import (
    Contact,
    DeliveryTrace,
    ErrorCode,
    Message,
    Orchestrator,
    RetryPolicy,
    ValidationError,
)
from tests.conftest import FakeClock, ScriptedProvider

ADDRESSES = {"phone": "+6281234567", "email": "ops@example.com", "telegram": "@ops"}


def Kinded(  # noqa: N802 - reads like the class it makes
    name: str, kind: str | None, script: list[Any] | None = None, **options: Any
) -> ScriptedProvider:
    """A scripted provider that needs ``kind`` of address (a class attribute, as declared)."""
    provider_class = type(f"{kind}-provider", (ScriptedProvider,), {"address_kind": kind})
    provider: ScriptedProvider = provider_class(name, script, **options)
    return provider


def orchestrator(*providers: ScriptedProvider, clock: FakeClock) -> Orchestrator:
    return Orchestrator(providers, clock=clock, retry_policy=RetryPolicy(max_attempts=1))


def test_each_provider_gets_the_address_of_its_kind(clock: FakeClock) -> None:
    phone = Kinded("wa", "phone", [ErrorCode.PROVIDER_UNAVAILABLE])
    email = Kinded("mail", "email")
    result = orchestrator(phone, email, clock=clock).send(Message(ADDRESSES, "Disk full"))
    assert result.success and result.provider == "mail"
    assert [m.recipient for m in phone.calls] == ["+6281234567"]
    assert [m.recipient for m in email.calls] == ["ops@example.com"]
    # Everything else about the message is what the caller built.
    assert email.calls[0].content == "Disk full"


def test_a_provider_without_an_address_is_skipped_with_the_reason(clock: FakeClock) -> None:
    phone = Kinded("wa", "phone")
    email = Kinded("mail", "email")
    result = orchestrator(phone, email, clock=clock).send(
        Message({"email": "ops@example.com"}, "hi"), trace=True
    )
    assert result.success and result.provider == "mail"
    assert phone.calls == [] and phone.health_calls == 0
    assert result.providers_tried == ("mail",)
    assert result.trace is not None
    (skipped,) = result.trace.skipped
    assert (skipped.provider, skipped.ready, skipped.details["reason"]) == (
        "wa",
        False,
        "no phone address",
    )
    assert DeliveryTrace.from_dict(result.trace.to_dict()) == result.trace


def test_no_provider_with_an_address_is_a_validation_error_before_any_send(
    clock: FakeClock,
) -> None:
    phone = Kinded("wa", "phone")
    email = Kinded("mail", "email")
    with pytest.raises(ValidationError, match="no address any provider of the chain can use"):
        orchestrator(phone, email, clock=clock).send(Message({"telegram": "@ops"}, "hi"))
    assert phone.calls == email.calls == []
    assert phone.health_calls == email.health_calls == 0


def test_unhealthy_providers_are_tried_anyway_but_never_one_without_an_address(
    clock: FakeClock,
) -> None:
    phone = Kinded("wa", "phone")
    email = Kinded("mail", "email", ready=False)
    result = orchestrator(phone, email, clock=clock).send(
        Message({"email": "ops@example.com"}, "hi"), trace=True
    )
    # Nobody with an address was healthy: the default tries them anyway.
    assert result.success and result.provider == "mail"
    assert phone.calls == []
    assert result.trace is not None
    assert [h.details["reason"] for h in result.trace.skipped] == ["no phone address"]


def test_a_provider_without_an_address_kind_gets_the_contacts_key(clock: FakeClock) -> None:
    anything = Kinded("hook", None)
    contact = Contact({"phone": "+1555"}, id="cust-7")
    orchestrator(anything, clock=clock).send(Message(contact, "hi"))
    assert [m.recipient for m in anything.calls] == [contact.key]


def test_a_plain_recipient_reaches_every_provider_unchanged(clock: FakeClock) -> None:
    phone = Kinded("wa", "phone", [ErrorCode.PROVIDER_UNAVAILABLE])
    email = Kinded("mail", "email")
    message = Message("+15551234567", "hi")
    orchestrator(phone, email, clock=clock).send(message)
    # The very same object: a plain recipient costs no copy.
    assert phone.calls == [message] and email.calls[0] is message


def test_observers_see_the_contact_not_the_per_provider_copy(clock: FakeClock) -> None:
    seen: list[Message] = []
    email = Kinded("mail", "email")
    message = Message(ADDRESSES, "hi")
    engine = Orchestrator(
        [email], clock=clock, on_attempt=lambda attempt, message: seen.append(message)
    )
    engine.send(message)
    assert seen == [message]


@settings(max_examples=60)
@given(
    st.lists(st.sampled_from(["phone", "email", "telegram"]), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(["phone", "email", "telegram"]), min_size=1, max_size=3, unique=True),
)
def test_exactly_the_providers_with_an_address_are_tried(
    chain_kinds: list[str], contact_kinds: list[str]
) -> None:
    providers = [
        Kinded(f"p-{kind}", kind, [ErrorCode.PROVIDER_UNAVAILABLE]) for kind in chain_kinds
    ]
    contact = {kind: ADDRESSES[kind] for kind in contact_kinds}
    engine = Orchestrator(providers, clock=FakeClock(), retry_policy=RetryPolicy(max_attempts=1))
    usable = [kind for kind in chain_kinds if kind in contact_kinds]
    if not usable:
        with pytest.raises(ValidationError):
            engine.send(Message(contact, "hi"))
        assert all(p.calls == [] for p in providers)
        return
    result = engine.send(Message(contact, "hi"), trace=True)
    assert result.providers_tried == tuple(f"p-{kind}" for kind in usable)
    for provider in providers:
        kind = str(provider.address_kind)
        expected = [ADDRESSES[kind]] if kind in usable else []
        assert [m.recipient for m in provider.calls] == expected
    assert result.trace is not None
    assert [h.provider for h in result.trace.skipped] == [
        f"p-{kind}" for kind in chain_kinds if kind not in contact_kinds
    ]

"""Contacts: one person with an address per kind, and the message title."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import Contact, Message, ValidationError
from broadcastio.records.contact import shown_address, shown_recipient

kinds = st.sampled_from(["phone", "email", "telegram", "signal"])
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z0-9._+-]{1,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    st.sampled_from(["com", "org", "co.id"]),
)


def address_for(kind: str) -> st.SearchStrategy[str]:
    return emails if kind == "email" else phones


contacts = st.builds(
    Contact,
    st.dictionaries(kinds, st.just(""), min_size=1).flatmap(
        lambda chosen: st.fixed_dictionaries({kind: address_for(kind) for kind in chosen})
    ),
    st.none() | st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True),
)


def test_a_mapping_as_recipient_makes_a_contact() -> None:
    message = Message({"phone": " +6281234567 ", "email": "ops@example.com"}, "Disk full")
    assert message.recipient == Contact({"email": "ops@example.com", "phone": "+6281234567"})
    assert isinstance(message.recipient, Contact)
    assert message.recipient.address("phone") == "+6281234567"
    assert message.recipient.address("telegram") is None


def test_a_plain_string_recipient_stays_a_string() -> None:
    assert Message(" +15551234567 ", "hi").recipient == "+15551234567"


@given(contacts)
def test_a_contact_survives_serialization(contact: Contact) -> None:
    message = Message(contact, "hi", title="Subject")
    again = Message.from_dict(message.to_dict())
    assert again == message
    assert again.recipient.key == contact.key  # type: ignore[union-attr]


@given(contacts, contacts)
def test_the_key_identifies_the_person(first: Contact, second: Contact) -> None:
    # Same id: same person, whatever the addresses; without ids, same addresses.
    if first.id is not None or second.id is not None:
        assert (first.key == second.key) == (first.id == second.id)
    else:
        assert (first.key == second.key) == (first.addresses == second.addresses)


def test_the_key_cannot_be_mistaken_for_a_plain_address() -> None:
    assert Contact({"phone": "+1555"}).key == '{"phone":"+1555"}'
    assert Contact({"phone": "+1555"}, id="cust-7").key == '{"id":"cust-7"}'


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("ops.example.com", "exactly one '@'"),
        ("ops@@example.com", "exactly one '@'"),
        ("@example.com", "exactly one '@'"),
        ("ops@example", "needs a dot"),
        ("ops@example.", "needs a dot"),
        ("o ps@example.com", "spaces or control characters"),
        ("ops@exam\x07ple.com", "spaces or control characters"),
    ],
)
def test_an_invalid_email_address_is_refused(address: str, problem: str) -> None:
    with pytest.raises(ValidationError, match="invalid email address") as caught:
        Message({"email": address}, "hi")
    assert problem in caught.value.message


@given(emails)
def test_plausible_email_addresses_are_accepted(address: str) -> None:
    assert Contact({"email": address}).address("email") == address


@pytest.mark.parametrize(
    ("addresses", "problem"),
    [
        ({}, "at least one address"),
        ({"Email": "a@b.co"}, "lowercase name"),
        ({"id": "x"}, "not an address kind"),
        ({"phone": "  "}, "phone address must not be empty"),
        ({"phone": 15551234}, "phone address must be a string"),
    ],
)
def test_a_contact_needs_usable_addresses(addresses: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Contact(addresses)  # type: ignore[arg-type]


def test_a_recipient_of_another_type_names_the_accepted_ones() -> None:
    with pytest.raises(ValidationError, match="a string, a Contact or a mapping"):
        Message(15551234, "hi")  # type: ignore[arg-type]


def test_a_title_is_one_line_and_blank_is_none() -> None:
    assert Message("+1", "hi", title="Disk\nfull  on db1").title == "Disk full on db1"
    assert Message("+1", "hi", title="  ").title is None
    assert Message("+1", "hi").title is None
    with pytest.raises(ValidationError, match="title must be a string"):
        Message("+1", "hi", title=3)  # type: ignore[arg-type]


def test_old_serialized_messages_without_a_title_still_load() -> None:
    message = Message.from_dict({"recipient": "+1", "content": "hi"})
    assert (message.recipient, message.title) == ("+1", None)


def test_a_serialized_contact_with_unknown_keys_is_refused() -> None:
    with pytest.raises(ValidationError):
        Message.from_dict({"recipient": {"phone": "+1"}, "content": "hi"})


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/secret", "https://hooks.slack.com/***"),
        ("http://127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/***"),
        ("https://user:pw@example.com", "https://example.com/***"),
        ("https://example.com", "https://example.com"),
        ("+15551234567", "+15551234567"),
        ("ops@example.com", "ops@example.com"),
    ],
)
def test_shown_address_hides_a_urls_secret_parts(address: str, shown: str) -> None:
    assert shown_address(address) == shown


def test_a_contact_shows_a_webhook_url_without_its_path() -> None:
    contact = Contact({"webhook": "https://discord.com/api/webhooks/1/tok", "phone": "+1555"})
    assert "tok" not in str(contact) and "https://discord.com/***" in str(contact)


@pytest.mark.parametrize(
    "address", ["ftp://files.example.com/secret", "example.com/hook", "https:///x", "https://a b/c"]
)
def test_a_webhook_address_must_be_an_http_url_and_the_error_does_not_repeat_it(
    address: str,
) -> None:
    with pytest.raises(ValidationError, match="invalid webhook address") as caught:
        Contact({"webhook": address})
    assert address not in str(caught.value)


def test_repr_of_a_contact_and_its_message_hides_a_webhook_urls_path() -> None:
    contact = Contact({"webhook": "https://hooks.example.com/T/B/tok3n"}, id="team-a")
    message = Message(contact, "hi")
    for text in (repr(contact), repr(message), f"{[contact]}"):
        assert "tok3n" not in text and "https://hooks.example.com/***" in text
    assert "team-a" in repr(contact)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ('{"webhook":"https://h.example.com/x/tok3n"}', '{"webhook":"https://h.example.com/***"}'),
        ('{"id":"cust-1"}', '{"id":"cust-1"}'),
        ('{"email":"a@example.com","phone":"+1555"}', '{"email":"a@example.com","phone":"+1555"}'),
        ("https://h.example.com/tok3n", "https://h.example.com/***"),
        ("+15551234567", "+15551234567"),
        ("{not json", "{not json"),
    ],
)
def test_shown_recipient_hides_urls_in_keys(key: str, shown: str) -> None:
    assert shown_recipient(key) == shown

"""Broadcasts to contacts: one person is one row of the journal, whatever their channels."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broadcastio import (
    Contact,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    RetryPolicy,
    ValidationError,
)
from broadcastio.broadcast import (
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientStatus,
    broadcast,
    iter_broadcast,
    reference_id_for,
)
from broadcastio.broadcast.recipients import open_recipient_file


class Channel(MessageProvider):
    """Records every address it was given; fails while ``down`` is set."""

    address_kind = "phone"

    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]
        self.down = False
        self.sent: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        assert isinstance(message.recipient, str)
        if self.down:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, "down")
        with self._lock:
            self.sent.append((message.recipient, message.metadata.reference_id))
        return DeliveryResult.delivered(self.name, f"{self.name}-{len(self.sent)}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


class MailChannel(Channel):
    address_kind = "email"


def people(count: int) -> list[Contact]:
    """Contacts with only a phone, only an email, or both, in turn."""
    contacts = []
    for number in range(count):
        addresses = {}
        if number % 3 != 1:
            addresses["phone"] = f"+1555{number:07d}"
        if number % 3 != 0:
            addresses["email"] = f"person{number}@example.com"
        contacts.append(Contact(addresses, id=f"p{number}"))
    return contacts


def chain() -> tuple[Channel, MailChannel, Orchestrator]:
    phone, mail = Channel("whatsapp"), MailChannel("email")
    orchestrator = Orchestrator([phone, mail], retry_policy=RetryPolicy(max_attempts=1))
    return phone, mail, orchestrator


def test_every_person_gets_one_message_and_the_journal_says_which_channel(
    journal_path: Path,
) -> None:
    phone, mail, orchestrator = chain()
    contacts = people(60)
    report = broadcast(
        orchestrator,
        [Message(contact, "Store closes at 6") for contact in contacts],
        journal=journal_path,
        broadcast_id="b",
        concurrency=4,
    )
    assert report.delivered == 60
    # Phone first: everyone with a phone got WhatsApp, the others email.
    with_phone = [c for c in contacts if c.address("phone")]
    assert sorted(r for r, _ in phone.sent) == sorted(c.addresses["phone"] for c in with_phone)
    assert len(mail.sent) == 60 - len(with_phone)
    with Journal(journal_path) as journal:
        for contact in contacts:
            row = journal.row("b", contact.key)
            assert row is not None and row.state is RecipientState.DELIVERED
            assert row.provider == ("whatsapp" if contact.address("phone") else "email")


def test_resuming_never_sends_a_person_twice_through_any_channel(journal_path: Path) -> None:
    phone, mail, orchestrator = chain()
    contacts = people(30)
    phone.down = True  # everyone with an email gets it by email; the phone-only ones fail
    first = broadcast(
        orchestrator, [Message(c, "hi") for c in contacts], journal=journal_path, broadcast_id="b"
    )
    phone_only = [c for c in contacts if c.address("email") is None]
    assert first.failed == len(phone_only)
    phone.down = False
    second = broadcast(
        orchestrator,
        [Message(c, "hi") for c in contacts],
        journal=journal_path,
        broadcast_id="b",
        retry_failed=True,
    )
    assert second.delivered == len(phone_only)
    assert second.already_delivered == 30 - len(phone_only)
    reached = [r for r, _ in phone.sent] + [r for r, _ in mail.sent]
    assert len(reached) == 30  # one message per person, over both channels


def test_the_reference_id_comes_from_the_contact_id_so_new_addresses_are_the_same_person(
    journal_path: Path,
) -> None:
    phone, mail, orchestrator = chain()
    before = Contact({"phone": "+15550000001"}, id="cust-1")
    after = Contact({"phone": "+15550000002", "email": "a@example.com"}, id="cust-1")
    broadcast(orchestrator, [Message(before, "hi")], journal=journal_path, broadcast_id="b")
    report = broadcast(
        orchestrator, [Message(after, "hi")], journal=journal_path, broadcast_id="b"
    )
    assert report.already_delivered == 1 and report.delivered == 0
    assert phone.sent == [("+15550000001", reference_id_for("b", '{"id":"cust-1"}'))]


def test_without_an_id_the_sorted_addresses_identify_the_person() -> None:
    phone, mail, orchestrator = chain()
    run = iter_broadcast(
        orchestrator,
        [
            Message({"phone": "+1555", "email": "a@example.com"}, "hi"),
            Message({"email": "a@example.com", "phone": "+1555"}, "hi"),
            Message({"phone": "+1555"}, "hi"),
        ],
        broadcast_id="b",
    )
    with run:
        statuses = [outcome.status for outcome in sorted(run, key=lambda o: o.index)]
    # The second row is the first person again; the third has other addresses.
    assert statuses == [
        RecipientStatus.DELIVERED,
        RecipientStatus.DUPLICATE,
        RecipientStatus.DELIVERED,
    ]
    assert [r for r, _ in phone.sent] == ["+1555", "+1555"]
    assert len({ref for _, ref in phone.sent}) == 2


def test_an_outcome_carries_the_contact_through_json() -> None:
    _, mail, orchestrator = chain()
    contact = Contact({"email": "a@example.com"}, id="cust-9")
    run = iter_broadcast(orchestrator, [Message(contact, "hi")], broadcast_id="b")
    with run:
        (outcome,) = list(run)
    assert outcome.recipient == contact.key and outcome.contact == contact
    assert outcome.result is not None and outcome.result.provider == "email"
    again = RecipientOutcome.from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert again == outcome


def test_a_contact_no_provider_can_reach_fails_that_row_only() -> None:
    phone, _, orchestrator = chain()
    run = iter_broadcast(
        orchestrator,
        [Message({"telegram": "@ops"}, "hi"), Message({"phone": "+1555"}, "hi")],
        broadcast_id="b",
    )
    with run:
        outcomes = list(run)
    assert [o.status for o in outcomes] == [RecipientStatus.FAILED, RecipientStatus.DELIVERED]
    error = outcomes[0].result.error  # type: ignore[union-attr]
    assert error is not None and error.code is ErrorCode.INVALID_MESSAGE
    assert phone.sent[0][0] == "+1555"


# -- recipient files ----------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_address_columns_make_contacts(tmp_path: Path) -> None:
    text = "id,phone,email,name\nc1,+1555,,Ada\nc2,,b@example.com,Bob\n,+1666,c@example.com,Cy\n"
    rows = list(open_recipient_file(write(tmp_path, "r.csv", text)).rows())
    assert [row.recipient for row in rows] == [
        Contact({"phone": "+1555"}, id="c1"),
        Contact({"email": "b@example.com"}, id="c2"),
        Contact({"phone": "+1666", "email": "c@example.com"}),
    ]
    assert rows[1].variables["name"] == "Bob"


def test_jsonl_address_keys_make_contacts_and_recipient_still_works(tmp_path: Path) -> None:
    text = '{"email": "a@example.com", "id": "c1"}\n{"recipient": "+1555", "name": "Ada"}\n'
    rows = list(open_recipient_file(write(tmp_path, "r.jsonl", text)).rows())
    assert [row.recipient for row in rows] == [Contact({"email": "a@example.com"}, "c1"), "+1555"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("r.csv", "phone,email,name\n+1,,Ada\n,,Bob\n", "line 3: has no address"),
        ("r.csv", "phone,email\n+1,\n,not-an-address\n", "line 3: invalid email address"),
        ("r.csv", "recipient,phone\n+1,+2\n", "line 2: has both a 'recipient' and address"),
        ("r.csv", "recipient,id\n+1,c1\n", "line 2: has an 'id' but no address column"),
        ("r.jsonl", '{"phone": "+1"}\n{"email": 5}\n', "line 2: key 'email' must hold text"),
        ("r.jsonl", '{"phone": "+1"}\n{"id": "c1"}\n', "line 2: needs a 'recipient' key"),
    ],
)
def test_a_row_with_no_usable_address_names_its_line(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ValidationError) as caught:
        open_recipient_file(path).check(None)
    assert caught.value.message.startswith(f"{path}, {expected}")
    assert caught.value.message.endswith("; nothing was sent")


addresses = st.fixed_dictionaries(
    {},
    optional={
        "phone": st.from_regex(r"\+[1-9][0-9]{6,12}", fullmatch=True),
        "email": st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.com", fullmatch=True),
    },
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(addresses, min_size=1, max_size=20))
def test_csv_rows_become_the_contacts_they_describe(
    tmp_path: Path, rows: list[dict[str, str]]
) -> None:
    # A name column: a row whose every field is blank is a blank line, not a recipient.
    lines = ["phone,email,name"] + [
        f"{row.get('phone', '')},{row.get('email', '')},someone" for row in rows
    ]
    path = write(tmp_path, "h.csv", "\n".join(lines) + "\n")
    if any(not row for row in rows):
        first_bad = next(n for n, row in enumerate(rows) if not row) + 2
        with pytest.raises(ValidationError, match=f"line {first_bad}: has no address"):
            open_recipient_file(path).check(None)
        return
    assert [row.recipient for row in open_recipient_file(path).rows()] == [
        Contact(row) for row in rows
    ]

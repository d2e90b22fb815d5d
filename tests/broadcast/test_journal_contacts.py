"""The journal holds each person's whole contact, and the address each channel used.

Before schema version 2 a contact with an id was stored as ``{"id": ...}``
alone: the journal could not say who the row was nor where the message went.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
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
)
from broadcastio.broadcast import (
    Journal,
    RecipientState,
    RecipientStatus,
    RecipientTask,
    broadcast,
    deliver_recipient,
    reference_id_for,
)


class Channel(MessageProvider):
    """Takes addresses of one kind (or none); fails while ``down``."""

    def __init__(self, name: str, address_kind: str | None) -> None:
        self.name = name  # type: ignore[misc]
        self.address_kind = address_kind  # type: ignore[misc]
        self.down = False
        self.sent: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        assert isinstance(message.recipient, str)
        if self.down:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, "down")
        self.sent.append(message.recipient)
        return DeliveryResult.delivered(self.name, f"{self.name}-{len(self.sent)}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def chain() -> tuple[Channel, Channel, Orchestrator]:
    phone, mail = Channel("whatsapp", "phone"), Channel("alerts-mail", "email")
    return phone, mail, Orchestrator([phone, mail], retry_policy=RetryPolicy(max_attempts=1))


def test_each_row_holds_the_whole_contact_and_the_address_its_channel_used(
    journal_path: Path,
) -> None:
    phone, _, orchestrator = chain()
    phone.down = True
    both = Contact({"phone": "+15550000001", "email": "both@example.com"}, id="cust-1")
    phone_only = Contact({"phone": "+15550000002"}, id="cust-2")
    no_id = Contact({"email": "noid@example.com", "telegram": "@noid"})
    broadcast(
        orchestrator,
        [Message(person, "hi") for person in (both, phone_only, no_id)],
        journal=journal_path,
        broadcast_id="b",
    )
    with Journal(journal_path, read_only=True) as journal:
        row = journal.row("b", both)
        assert row.recipient == '{"id":"cust-1"}'
        assert row.contact == both and row.contact_id == "cust-1"
        assert row.addresses == {"email": "both@example.com", "phone": "+15550000001"}
        # WhatsApp was down: email delivered, to the email address.
        assert (row.provider, row.address_kind, row.address) == (
            "alerts-mail",
            "email",
            "both@example.com",
        )
        failed = journal.row("b", phone_only)
        assert failed.state is RecipientState.FAILED
        assert (failed.provider, failed.address_kind, failed.address) == (
            "whatsapp",
            "phone",
            "+15550000002",
        )
        assert journal.row("b", no_id).contact == no_id
        data = journal.row("b", both).to_dict()
        assert data["addresses"] == {"email": "both@example.com", "phone": "+15550000001"}
        assert type(journal.row("b", both)).from_dict(data) == journal.row("b", both)


def test_a_plain_recipient_has_no_contact_and_is_its_own_address(journal_path: Path) -> None:
    _, _, orchestrator = chain()
    broadcast(orchestrator, [Message("+15550000009", "hi")], journal=journal_path, broadcast_id="b")
    with Journal(journal_path, read_only=True) as journal:
        row = journal.row("b", "+15550000009")
    assert row.contact is None and row.contact_id is None and row.addresses is None
    assert (row.provider, row.address_kind, row.address) == ("whatsapp", "phone", "+15550000009")


def test_a_provider_without_an_address_kind_records_no_address(journal_path: Path) -> None:
    channel = Channel("ops-webhook", None)
    person = Contact({"phone": "+15550000001"}, id="cust-1")
    broadcast(
        Orchestrator([channel]), [Message(person, "hi")], journal=journal_path, broadcast_id="b"
    )
    with Journal(journal_path, read_only=True) as journal:
        row = journal.row("b", person)
    assert row.contact == person and row.provider == "ops-webhook"
    assert (row.address_kind, row.address) == (None, None)


def test_a_resend_records_the_addresses_it_went_to_and_a_delivery_keeps_its_own(
    journal_path: Path,
) -> None:
    phone, _, orchestrator = chain()
    phone.down = True
    reached = Contact({"phone": "+15550000001", "email": "old@example.com"}, id="cust-1")
    missed = Contact({"phone": "+15550000002"}, id="cust-2")
    broadcast(
        orchestrator,
        [Message(reached, "hi"), Message(missed, "hi")],
        journal=journal_path,
        broadcast_id="b",
    )
    phone.down = False
    # Both people have new addresses by the resume; only the one who failed is sent again.
    moved = Contact({"phone": "+15550000001", "email": "new@example.com"}, id="cust-1")
    new_phone = Contact({"phone": "+15550000022"}, id="cust-2")
    report = broadcast(
        orchestrator,
        [Message(moved, "hi"), Message(new_phone, "hi")],
        journal=journal_path,
        broadcast_id="b",
        retry_failed=True,
    )
    assert (report.already_delivered, report.delivered) == (1, 1)
    assert phone.sent == ["+15550000022"]
    with Journal(journal_path, read_only=True) as journal:
        delivered = journal.row("b", reached)
        resent = journal.row("b", missed)
    assert delivered.contact == reached and delivered.address == "old@example.com"
    assert resent.contact == new_phone and resent.address == "+15550000022"
    assert resent.attempts == 2


def test_a_task_queue_worker_journals_the_contact_too(journal_path: Path) -> None:
    _, mail, orchestrator = chain()
    person = Contact({"email": "queue@example.com"}, id="q-1")
    message = Message(person, "hi", metadata={"reference_id": reference_id_for("q", person.key)})
    wire = json.dumps(RecipientTask("q", 1, 0, message).to_dict())
    with Journal(journal_path) as journal:
        outcome = deliver_recipient(
            orchestrator, RecipientTask.from_dict(json.loads(wire)), journal
        )
        row = journal.row("q", person)
    assert outcome.status is RecipientStatus.DELIVERED and mail.sent == ["queue@example.com"]
    assert row.contact == person
    assert (row.address_kind, row.address) == ("email", "queue@example.com")


def test_export_has_the_contact_columns(journal_path: Path) -> None:
    _, _, orchestrator = chain()
    person = Contact({"phone": "+15550000001", "email": "=cmd@example.com"}, id="=1+1")
    broadcast(orchestrator, [Message(person, "hi")], journal=journal_path, broadcast_id="b")
    with Journal(journal_path, read_only=True) as journal:
        out = io.StringIO()
        journal.export_csv("b", out)
        raw = io.StringIO()
        journal.export_csv("b", raw, spreadsheet_safe=False)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["contact_id"] == "'=1+1"  # spreadsheet-safe like every other cell
    assert json.loads(row["addresses"]) == {"email": "=cmd@example.com", "phone": "+15550000001"}
    assert (row["address_kind"], row["address"]) == ("phone", "+15550000001")
    (verbatim,) = csv.DictReader(io.StringIO(raw.getvalue()))
    assert verbatim["contact_id"] == "=1+1"


_KINDS = st.sampled_from(["phone", "email", "telegram", "x-chat"])
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=20,
)


@st.composite
def contacts(draw: st.DrawFn) -> Contact:
    kinds = draw(st.sets(_KINDS, min_size=1, max_size=4))
    addresses = {}
    for kind in kinds:
        if kind == "email":
            addresses[kind] = draw(
                st.from_regex(r"[a-z0-9.]{1,10}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True)
            )
        else:
            addresses[kind] = draw(_TEXT)
    return Contact(addresses, draw(st.none() | _TEXT))


@settings(max_examples=40, deadline=None)
@given(people=st.lists(contacts(), min_size=1, max_size=8, unique_by=lambda c: c.key))
def test_every_contact_reads_back_as_it_was_given(people: list[Contact]) -> None:
    """Whatever the addresses and ids (any Unicode), the journal gives back the same contact."""
    any_address = Channel("any", None)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "journal.sqlite"
        broadcast(
            Orchestrator([any_address]),
            [Message(person, "hi") for person in people],
            journal=path,
            broadcast_id="b",
        )
        with Journal(path, read_only=True) as journal:
            rows = {row.recipient: row for row in journal.rows("b")}
    assert {key: row.contact for key, row in rows.items()} == {p.key: p for p in people}

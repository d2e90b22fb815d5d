"""``broadcastio journal`` shows who each row is and the address used; old journals still read.

Run through the installed script. The version 1 journal is built with version
1's own DDL (``tests/broadcast/journal_v1.py``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

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
from broadcastio.broadcast import broadcast

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "broadcast"))
from journal_v1 import V1Row, write_v1_journal  # noqa: E402

BOTH = Contact({"phone": "+15550000001", "email": "both@example.com"}, id="cust-1")
PHONE_ONLY = Contact({"phone": "+15550000002"}, id="cust-2")


class Channel(MessageProvider):
    def __init__(self, name: str, address_kind: str, *, down: bool = False) -> None:
        self.name = name  # type: ignore[misc]
        self.address_kind = address_kind  # type: ignore[misc]
        self.down = down

    def send(self, message: Message) -> DeliveryResult:
        if self.down:
            return DeliveryResult.failed(self.name, ErrorCode.PROVIDER_UNAVAILABLE, "down")
        return DeliveryResult.delivered(self.name, "m-1")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """Broadcast 'b': WhatsApp down, so cust-1 got email and cust-2 failed; +9 got email."""
    path = tmp_path / "journal.sqlite"
    chain = [Channel("whatsapp", "phone", down=True), Channel("alerts-mail", "email")]
    broadcast(
        Orchestrator(chain, retry_policy=RetryPolicy(max_attempts=1)),
        [Message(BOTH, "hi"), Message(PHONE_ONLY, "hi"), Message("+15550000009", "hi")],
        journal=path,
        broadcast_id="b",
    )
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_show_names_the_person_and_the_address_each_row_used(run_script, journal) -> None:
    shown = run_script("journal", "show", "b", "--journal", str(journal))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[1].split() == [
        "recipient", "state", "provider", "address", "message", "id", "attempts", "error",
    ]  # fmt: skip
    both = next(line for line in lines if line.startswith("cust-1 "))
    assert "(email=both@example.com, phone=+15550000001)" in both
    assert "alerts-mail" in both and "email=both@example.com" in both
    failed = next(line for line in lines if line.startswith("cust-2 "))
    assert "phone=+15550000002" in failed and "PROVIDER_UNAVAILABLE" in failed
    assert '{"id"' not in shown.stdout  # the person, not the key
    data = json.loads(
        run_script("journal", "show", "b", "--journal", str(journal), "--json").stdout
    )
    rows = {row["recipient"]: row for row in data["rows"]}
    assert rows[BOTH.key]["contact_id"] == "cust-1"
    assert rows[BOTH.key]["addresses"] == {"email": "both@example.com", "phone": "+15550000001"}
    assert (rows[BOTH.key]["address_kind"], rows[BOTH.key]["address"]) == (
        "email",
        "both@example.com",
    )
    assert rows["+15550000009"]["addresses"] is None


def test_export_has_the_contact_columns(run_script, journal) -> None:
    exported = run_script("journal", "export", "b", "--journal", str(journal))
    assert exported.returncode == 0, exported.stderr
    reader = csv.DictReader(io.StringIO(exported.stdout))
    assert reader.fieldnames[-8:-4] == ["contact_id", "addresses", "address_kind", "address"]
    # Then the receipt columns (schema version 3).
    assert reader.fieldnames[-4:] == ["receipt", "receipt_updated_at", "delivered_at", "read_at"]
    rows = {row["recipient"]: row for row in reader}
    assert rows[PHONE_ONLY.key]["contact_id"] == "cust-2"
    assert json.loads(rows[PHONE_ONLY.key]["addresses"]) == {"phone": "+15550000002"}
    assert (rows[PHONE_ONLY.key]["address_kind"], rows[PHONE_ONLY.key]["address"]) == (
        "phone",
        "+15550000002",
    )
    assert (rows["+15550000009"]["contact_id"], rows["+15550000009"]["addresses"]) == ("", "")


@pytest.fixture
def v1_journal(tmp_path: Path) -> Path:
    path = tmp_path / "old.sqlite"
    write_v1_journal(
        path,
        "spring",
        [V1Row('{"id":"cust-1"}', "delivered", provider="whatsapp"), V1Row("+2", "pending")],
    )
    return path


@pytest.mark.parametrize(
    "command",
    [["list"], ["show", "spring"], ["show", "spring", "--json"], ["export", "spring"]],
    ids=" ".join,
)
def test_a_v1_journal_reads_unchanged_and_says_nothing_is_lost(
    run_script, v1_journal, command
) -> None:
    before = digest(v1_journal)
    done = run_script("journal", *command, "--journal", str(v1_journal))
    assert done.returncode == 0, done.stderr
    assert "spring" in done.stdout or "cust-1" in done.stdout
    (note,) = done.stderr.splitlines()
    assert note.startswith("broadcastio: note: journal ")
    assert "schema version 1" in note and "nothing in it is lost" in note
    assert "upgrades it to version 3" in note
    assert digest(v1_journal) == before


def test_a_v1_journal_shows_its_rows_by_key(run_script, v1_journal) -> None:
    shown = run_script("journal", "show", "spring", "--journal", str(v1_journal))
    row = next(line for line in shown.stdout.splitlines() if line.startswith('{"id":"cust-1"}'))
    assert row.split()[1:4] == ["delivered", "whatsapp", "-"]


def test_a_journal_of_a_newer_schema_is_refused_in_one_line(run_script, tmp_path) -> None:
    path = tmp_path / "new.sqlite"
    write_v1_journal(path, "spring", [V1Row("+1", "pending")], version=4)
    before = digest(path)
    for command in (["list"], ["show", "spring"], ["export", "spring"]):
        done = run_script("journal", *command, "--journal", str(path))
        assert done.returncode == 2, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("broadcastio: error: ")
        assert "schema version 4" in line and "upgrade broadcastio" in line
        assert done.stdout == ""
    assert digest(path) == before


def test_a_broadcast_resuming_a_v1_journal_upgrades_it_and_sends_only_the_rest(
    run_script, v1_journal, tmp_path, dummy_config
) -> None:
    dummy_config()
    (tmp_path / "people.csv").write_text("id,phone\ncust-1,+15550000001\ncust-3,+15550000003\n")
    sent = run_script(
        "--config", "dummy.toml", "broadcast", "--recipients", "people.csv", "--text", "hi",
        "--journal", str(v1_journal), "--id", "spring", "--results", "results.json",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    results = [json.loads(line) for line in (tmp_path / "results.json").read_text().splitlines()]
    statuses = {row["recipient"]: row["status"] for row in results}
    # cust-1 was delivered by the version 1 run; +2 (pending there) is not in this input.
    assert statuses == {'{"id":"cust-1"}': "already_delivered", '{"id":"cust-3"}': "delivered"}
    shown = run_script("journal", "show", "spring", "--journal", str(v1_journal))
    assert shown.returncode == 0 and shown.stderr == ""  # upgraded: no note any more
    assert any(line.startswith("cust-3 (phone=+15550000003)") for line in shown.stdout.splitlines())


def test_show_hides_a_webhook_urls_path_in_both_columns(run_script, tmp_path) -> None:
    path = tmp_path / "hooks.sqlite"
    hook = Contact({"webhook": "https://hooks.example.com/services/T0/s3cr3t"}, id="team-a")
    broadcast(Orchestrator([Channel("hooks", "webhook")]), [Message(hook, "hi")], journal=path)

    shown = run_script("journal", "show", "--journal", str(path), broadcast_id_of(path))

    assert shown.returncode == 0, shown.stderr
    assert "s3cr3t" not in shown.stdout
    assert "webhook=https://hooks.example.com/***" in shown.stdout


def broadcast_id_of(path: Path) -> str:
    from broadcastio import Journal

    with Journal(path, read_only=True) as journal:
        (info,) = journal.broadcasts()
        return info.broadcast_id

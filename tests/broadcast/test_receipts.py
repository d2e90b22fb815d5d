"""Receipts in the journal: syncing from providers, what is recorded, the hook, old journals.

A provider of this file's own (``Ticks``) reports receipts the test sets, so
every rule is driven through the public functions: ``sync_receipts``,
``wait_for_receipts``, ``receipt_counts``, ``export_csv_with_receipts``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from journal_v1 import V1Row, write_v1_journal

from broadcastio import (
    BroadcastioError,
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    Receipt,
    ReceiptState,
    RetryPolicy,
    ValidationError,
    hookimpl,
)
from broadcastio.broadcast import Journal, broadcast
from broadcastio.broadcast.journal import SCHEMA_VERSION
from broadcastio.broadcast.journal.receipts import (
    RECEIPT_COLUMNS,
    export_csv_with_receipts,
    merge_receipt,
    receipt_counts,
    record_receipts,
)
from broadcastio.broadcast.receipts import sync_receipts, wait_for_receipts

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Ticks(MessageProvider):
    """Delivers everything; reports the receipts in ``states`` (message id -> state)."""

    name = "ticks"
    supports_receipts = True

    def __init__(self) -> None:
        self.states: dict[str, ReceiptState] = {}
        self.asked: list[list[str]] = []
        self.down = False

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.delivered(self.name, f"id-{message.recipient}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)

    def fetch_receipts(self, message_ids: Sequence[str]) -> Mapping[str, Receipt]:
        self.asked.append(list(message_ids))
        if self.down:
            raise BroadcastioError("bridge down", code=ErrorCode.PROVIDER_UNAVAILABLE)
        return {
            i: Receipt(i, self.states[i], updated_at=T0) for i in message_ids if i in self.states
        }


class Silent(MessageProvider):
    """A channel without receipts (like email): the default ``fetch_receipts``."""

    name = "silent"

    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult.delivered(self.name, f"s-{message.recipient}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, ReceiptState | None]] = []

    @hookimpl
    def on_receipt(
        self, broadcast_id: str, recipient: str, receipt: Receipt, previous: Any
    ) -> None:
        self.calls.append((broadcast_id, recipient, receipt.state.value, previous))


def run_broadcast(orchestrator: Orchestrator, path: Path, recipients: list[str]) -> None:
    report = broadcast(
        orchestrator, [Message(r, "hi") for r in recipients], journal=path, broadcast_id="b"
    )
    assert report.delivered == len(recipients)


def test_sync_records_what_changed_fires_the_hook_and_counts(journal_url: str) -> None:
    ticks = Ticks()
    orchestrator = Orchestrator([ticks])
    heard = Heard()
    orchestrator.plugin_manager.register(heard)
    try:
        run_broadcast(orchestrator, journal_url, ["+1", "+2", "+3"])
        ticks.states = {"id-+1": ReceiptState.DEVICE, "id-+2": ReceiptState.READ}
        with Journal(journal_url) as journal:
            first = sync_receipts(orchestrator, journal, "b")
            assert first.asked == 3 and len(first.changes) == 2 and first.waiting == 1
            assert sorted(heard.calls) == [("b", "+1", "device", None), ("b", "+2", "read", None)]
            # Asked again with nothing new: nothing recorded, nothing fired.
            again = sync_receipts(orchestrator, journal, "b")
            assert again.changes == () and len(heard.calls) == 2
            # Forward moves are changes; a step back (DEVICE after READ) is not.
            ticks.states = {"id-+1": ReceiptState.READ, "id-+2": ReceiptState.DEVICE}
            later = sync_receipts(orchestrator, journal, "b")
            assert [(c.recipient, c.previous) for c in later.changes] == [
                ("+1", ReceiptState.DEVICE)
            ]
            counts = receipt_counts(journal, "b")
    finally:
        orchestrator.plugin_manager.unregister(heard)
    assert (counts.sent, counts.device, counts.read, counts.unknown) == (3, 2, 2, 1)
    assert heard.calls[-1] == ("b", "+1", "read", ReceiptState.DEVICE)


def test_a_channel_without_receipts_stays_unknown_never_delivered(journal_url: str) -> None:
    orchestrator = Orchestrator([Silent()])
    run_broadcast(orchestrator, journal_url, ["+1", "+2"])
    with Journal(journal_url) as journal:
        result = sync_receipts(orchestrator, journal, "b")
        assert result.asked == 0 and dict(result.without_receipts) == {"silent": 2}
        counts = receipt_counts(journal, "b")
        out = io.StringIO()
        export_csv_with_receipts(journal, "b", out)
    assert (counts.sent, counts.device, counts.unknown) == (2, 0, 2)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["receipt"] for row in rows] == ["unknown", "unknown"]
    assert list(rows[0])[-len(RECEIPT_COLUMNS) :] == list(RECEIPT_COLUMNS)


def test_a_provider_that_cannot_be_asked_is_reported_and_the_rest_is_synced(
    journal_url: str,
) -> None:
    ticks = Ticks()
    run_broadcast(Orchestrator([ticks]), journal_url, ["+1", "+2"])
    ticks.down = True
    with Journal(journal_url) as journal:
        result = sync_receipts(Orchestrator([ticks]), journal, "b")
        assert set(result.failures) == {"ticks"} and result.changes == () and result.waiting == 2
        assert receipt_counts(journal, "b").unknown == 2


def test_wait_for_receipts_syncs_until_everything_reached_the_device(journal_url: str) -> None:
    ticks = Ticks()
    orchestrator = Orchestrator([ticks])
    run_broadcast(orchestrator, journal_url, ["+1", "+2"])
    clock = [0.0]
    steps = iter(
        [
            {"id-+1": ReceiptState.SERVER},
            {"id-+1": ReceiptState.DEVICE, "id-+2": ReceiptState.ERROR},
        ]
    )

    def sleep(seconds: float) -> None:
        clock[0] += seconds
        ticks.states = next(steps)

    with Journal(journal_url) as journal:
        result = wait_for_receipts(
            orchestrator, journal, "b", 60, interval=1, sleep=sleep, clock=lambda: clock[0]
        )
        counts = receipt_counts(journal, "b")
    # Three syncs: nothing yet, +1 on the server, then +1 on the device and +2 failed.
    assert len(ticks.asked) == 3 and result.waiting == 0
    assert [change.receipt.state.value for change in result.changes] == [
        "server",
        "device",
        "error",
    ]
    assert (counts.device, counts.error) == (1, 1)


def test_wait_for_receipts_stops_when_the_time_is_up(journal_url: str) -> None:
    ticks = Ticks()
    orchestrator = Orchestrator([ticks])
    run_broadcast(orchestrator, journal_url, ["+1"])
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with Journal(journal_url) as journal:
        result = wait_for_receipts(
            orchestrator, journal, "b", 10, interval=3, sleep=sleep, clock=lambda: clock[0]
        )
    assert result.waiting == 1 and clock[0] == 10  # slept 3 + 3 + 3 + 1: the last wait is cut


def test_a_receipt_for_a_row_not_delivered_is_skipped_and_the_rest_recorded(
    journal_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    orchestrator = Orchestrator([Ticks()], retry_policy=RetryPolicy(max_attempts=1))
    run_broadcast(orchestrator, journal_url, ["+1"])
    with Journal(journal_url) as journal, caplog.at_level("DEBUG", logger="broadcastio"):
        changes = record_receipts(
            journal,
            "b",
            [
                ("+9", "ticks", Receipt("id-+9", "read")),
                ("+1", "ticks", Receipt("id-+1", "read")),
            ],
        )
        assert [change.recipient for change in changes] == ["+1"]
        assert receipt_counts(journal, "b").read == 1
        with pytest.raises(ValidationError, match="no broadcast 'nope'"):
            receipt_counts(journal, "nope")
        with pytest.raises(ValidationError, match="no broadcast 'nope'"):
            record_receipts(journal, "nope", [("+1", "ticks", Receipt("id-+1", "read"))])
    (line,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "+9" in line and "no row" in line


class Undelivering(Ticks):
    """Reports receipts for every message, and while asked, turns ``+2``'s row into a
    failed one, as a concurrent run could between the sync reading the page and recording it."""

    def __init__(self, journal_path: Path) -> None:
        super().__init__()
        self.journal_path = journal_path

    def fetch_receipts(self, message_ids: Sequence[str]) -> Mapping[str, Receipt]:
        connection = sqlite3.connect(self.journal_path)
        try:
            with connection:
                connection.execute("UPDATE recipients SET state = 'failed' WHERE recipient = '+2'")
        finally:
            connection.close()
        return {i: Receipt(i, ReceiptState.READ, updated_at=T0) for i in message_ids}


def test_a_row_that_stops_being_delivered_during_a_sync_costs_only_its_own_receipt(
    journal_path: Path,
) -> None:
    provider = Undelivering(journal_path)
    orchestrator = Orchestrator([provider])
    run_broadcast(orchestrator, journal_path, ["+1", "+2", "+3"])
    with Journal(journal_path) as journal:
        result = sync_receipts(orchestrator, journal, "b")
        assert sorted(change.recipient for change in result.changes) == ["+1", "+3"]
        assert receipt_counts(journal, "b").read == 2


def write_v2_journal(path: Path) -> None:
    """A version 2 journal, made as version 2 made it: version 1's tables plus four columns."""
    write_v1_journal(path, "b", [V1Row("+1", "delivered", provider="ticks"), V1Row("+2", "failed")])
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for column in ("contact_id", "addresses", "address_kind", "address"):
            connection.execute(f"ALTER TABLE recipients ADD COLUMN {column} TEXT")
        connection.execute("PRAGMA user_version = 2")
    finally:
        connection.close()


def test_a_v2_journal_opens_read_only_as_it_is_with_every_receipt_unknown(
    journal_path: Path,
) -> None:
    write_v2_journal(journal_path)
    before = journal_path.read_bytes()
    with Journal(journal_path, read_only=True) as journal:
        assert journal.schema_version == 2
        counts = receipt_counts(journal, "b")
        out = io.StringIO()
        assert export_csv_with_receipts(journal, "b", out) == 2
        with pytest.raises(ValidationError, match="schema version 2, without receipts"):
            sync_receipts(Orchestrator([Ticks()]), journal, "b")
    assert (counts.sent, counts.unknown) == (1, 1)
    rows = {row["recipient"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (rows["+1"]["receipt"], rows["+2"]["receipt"]) == ("unknown", "")
    assert journal_path.read_bytes() == before


def test_syncing_a_v2_journal_upgrades_it_in_place_and_records(journal_path: Path) -> None:
    write_v2_journal(journal_path)
    ticks = Ticks()
    ticks.states = {"m-0": ReceiptState.PLAYED}  # what version 1/2 stored as the message id
    with Journal(journal_path) as journal:
        assert journal.schema_version == SCHEMA_VERSION
        assert len(sync_receipts(Orchestrator([ticks]), journal, "b").changes) == 1
        # A final state is not asked about again.
        sync_receipts(Orchestrator([ticks]), journal, "b")
        assert ticks.asked == [["m-0"]]
        assert receipt_counts(journal, "b").read == 1


_STATES = st.sampled_from(list(ReceiptState))
_TIMES = st.none() | st.datetimes(
    min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(UTC)
)


@given(stored=st.none() | st.tuples(_STATES, _TIMES, _TIMES, _TIMES), new=_STATES, at=_TIMES)
def test_a_merged_receipt_never_goes_back_and_keeps_known_times(
    stored: Any, new: ReceiptState, at: dt.datetime | None
) -> None:
    merged = merge_receipt(stored, Receipt("m", new, updated_at=at, delivered_at=at))
    if stored is None:
        assert merged is not None and merged.state is new
        return
    state, _, delivered_at, read_at = stored
    result = state if merged is None else merged.state
    # Progress only: never from the device (or further) back to an earlier tick or to error.
    if state.at_least(ReceiptState.DEVICE):
        assert result.at_least(state)
    elif state is not ReceiptState.ERROR and new is not ReceiptState.ERROR:
        assert result.rank == max(state.rank, new.rank)
    elif state is ReceiptState.ERROR:
        assert result is (new if new.at_least(ReceiptState.DEVICE) else ReceiptState.ERROR)
    else:  # an error reported before the device
        assert result is ReceiptState.ERROR
    if merged is not None:
        assert delivered_at is None or merged.delivered_at == delivered_at
        assert read_at is None or merged.read_at == read_at
        assert (merged.state, merged.updated_at, merged.delivered_at, merged.read_at) != stored

"""BroadcastReport: totals from outcomes, and a JSON round trip through the shared converter."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import DeliveryResult, ErrorCode, ValidationError
from broadcastio.broadcast import BroadcastReport, RecipientOutcome, RecipientStatus
from broadcastio.broadcast.report import ReportTally

START = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)


def outcome(status: RecipientStatus, result: DeliveryResult | None = None) -> RecipientOutcome:
    return RecipientOutcome("b", 0, "+1555", "ref", status, result)


def test_the_tally_counts_every_status_once() -> None:
    tally = ReportTally()
    tally.add(outcome(RecipientStatus.DELIVERED, DeliveryResult.delivered("whatsapp", "1")))
    tally.add(outcome(RecipientStatus.DELIVERED, DeliveryResult.delivered("dummy", "2")))
    tally.add(outcome(RecipientStatus.DELIVERED, DeliveryResult.delivered("dummy", "3")))
    bad = DeliveryResult.failed("whatsapp", ErrorCode.INVALID_RECIPIENT, "no")
    tally.add(outcome(RecipientStatus.FAILED, bad))
    timeout = DeliveryResult.failed("whatsapp", ErrorCode.TIMEOUT, "slow")
    tally.add(outcome(RecipientStatus.AMBIGUOUS, timeout))
    for status in (
        RecipientStatus.DUPLICATE,
        RecipientStatus.ALREADY_DELIVERED,
        RecipientStatus.NOT_RETRIED,
        RecipientStatus.NOT_SENT,
    ):
        tally.add(outcome(status))
    report = tally.report(
        broadcast_id="b",
        run=1,
        started_at=START,
        finished_at=START + dt.timedelta(seconds=2),
        elapsed_seconds=2.0,
        interrupted=False,
        journal=None,
    )
    assert (report.total, report.delivered, report.failed, report.ambiguous) == (9, 3, 1, 1)
    assert (report.duplicates, report.already_delivered) == (1, 1)
    assert (report.not_retried, report.not_sent) == (1, 1)
    assert report.failed_by_code == {ErrorCode.INVALID_RECIPIENT: 1}
    assert report.delivered_by_provider == {"dummy": 2, "whatsapp": 1}
    assert report.sent == 5 and report.skipped == 4
    assert report.throughput == 2.5
    assert not report.complete


def test_an_empty_run_has_zero_throughput() -> None:
    report = ReportTally().report(
        broadcast_id="b",
        run=1,
        started_at=START,
        finished_at=START,
        elapsed_seconds=0.0,
        interrupted=False,
        journal=None,
    )
    assert report.throughput == 0.0 and report.complete


counts = st.integers(min_value=0, max_value=10**9)
reports = st.builds(
    BroadcastReport,
    broadcast_id=st.text(min_size=1, max_size=30),
    run=st.integers(min_value=0, max_value=1000),
    started_at=st.datetimes(timezones=st.just(dt.timezone.utc)),
    finished_at=st.datetimes(timezones=st.just(dt.timezone.utc)),
    elapsed_seconds=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    total=counts,
    delivered=counts,
    failed=counts,
    ambiguous=counts,
    duplicates=counts,
    already_delivered=counts,
    not_retried=counts,
    not_sent=counts,
    failed_by_code=st.dictionaries(st.sampled_from(ErrorCode), counts, max_size=4),
    delivered_by_provider=st.dictionaries(st.text(min_size=1, max_size=10), counts, max_size=3),
    throughput=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    interrupted=st.booleans(),
    journal=st.none() | st.text(min_size=1, max_size=30),
)


@given(reports)
def test_reports_round_trip_through_json(report: BroadcastReport) -> None:
    wire = json.loads(json.dumps(report.to_dict()))
    assert BroadcastReport.from_dict(wire) == report


def test_error_codes_are_written_by_name() -> None:
    report = BroadcastReport(
        "b", 1, START, START, 0.0, failed=2, failed_by_code={ErrorCode.TIMEOUT: 2}
    )
    data = report.to_dict()
    assert data["failed_by_code"] == {"TIMEOUT": 2}
    assert data["started_at"] == "2026-01-02T03:04:05+00:00"


def test_a_bad_report_dict_names_the_field() -> None:
    data = BroadcastReport("b", 1, START, START, 0.0).to_dict()
    data["delivered"] = "3"
    with pytest.raises(ValidationError, match="delivered"):
        BroadcastReport.from_dict(data)

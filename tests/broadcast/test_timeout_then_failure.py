"""A row whose send timed out somewhere and then failed plainly may have been delivered.

Before, the journal judged a send by its final error alone: a first provider
answering ``TIMEOUT`` (the message may have gone out) and a fallback, or a
retry, answering a plain failure made the row ``failed``, a message "surely
not sent". It is ``ambiguous``: the orchestrator marks the final error with
``EARLIER_TIMEOUT`` and ``state_of`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from broadcast_support import make_messages

from broadcastio import ErrorCode, Orchestrator, RetryPolicy
from broadcastio.broadcast import Journal, RecipientState, RecipientStatus, broadcast
from broadcastio.records.result import EARLIER_TIMEOUT
from tests.conftest import ScriptedProvider

PLAIN_FAILURES = [
    ErrorCode.PROVIDER_REJECTED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.INVALID_RECIPIENT,
    ErrorCode.PROVIDER_UNAVAILABLE,
]


def chain_timing_out_then_failing(how: str, code: ErrorCode) -> tuple[Orchestrator, str]:
    """The first send times out, then fails with ``code``: on a fallback, or on a retry."""
    if how == "fallback":
        slow = ScriptedProvider("slow", [ErrorCode.TIMEOUT])
        backup = ScriptedProvider("backup", [code])
        return Orchestrator([slow, backup]), "slow"
    # A policy that retries TIMEOUT is what a deduplicating provider is given.
    policy = RetryPolicy(max_attempts=2, base_delay=0, retry_on=[ErrorCode.TIMEOUT])
    flaky = ScriptedProvider("flaky", [ErrorCode.TIMEOUT, code])
    return Orchestrator([flaky], retry_policy=policy), "flaky"


@pytest.mark.parametrize("how", ["fallback", "retry"])
@pytest.mark.parametrize("code", PLAIN_FAILURES)
def test_a_timeout_then_a_plain_failure_leaves_the_row_ambiguous(
    how: str, code: ErrorCode, journal_path: Path
) -> None:
    messages = make_messages(3)
    orchestrator, timed_out = chain_timing_out_then_failing(how, code)
    outcomes = []
    report = broadcast(
        orchestrator,
        messages,
        journal=journal_path,
        broadcast_id="b",
        concurrency=1,
        on_result=outcomes.append,
    )
    assert (report.delivered, report.failed, report.ambiguous) == (2, 0, 1)
    assert report.failed_by_code == {}
    (unsure,) = [outcome for outcome in outcomes if outcome.status is not RecipientStatus.DELIVERED]
    assert unsure.status is RecipientStatus.AMBIGUOUS
    error = unsure.result.error
    assert error is not None and error.code is code  # the final error keeps its own code
    assert error.details[EARLIER_TIMEOUT] == timed_out
    with Journal(journal_path) as journal:
        states = {row.recipient: row.state for row in journal.rows("b")}
    assert states[unsure.recipient] is RecipientState.AMBIGUOUS

    # A resume leaves it alone unless told to retry, like every ambiguous row.
    again = ScriptedProvider("again")
    resumed = broadcast(Orchestrator([again]), messages, journal=journal_path, broadcast_id="b")
    assert (resumed.not_retried, resumed.already_delivered, resumed.sent) == (1, 2, 0)
    assert again.calls == []


def test_a_plain_failure_without_a_timeout_stays_failed(journal_path: Path) -> None:
    first = ScriptedProvider("first", [ErrorCode.PROVIDER_UNAVAILABLE])
    second = ScriptedProvider("second", [ErrorCode.PROVIDER_REJECTED])
    report = broadcast(
        Orchestrator([first, second]), make_messages(2), journal=journal_path, broadcast_id="b"
    )
    assert (report.delivered, report.failed, report.ambiguous) == (1, 1, 0)
    assert report.failed_by_code == {ErrorCode.PROVIDER_REJECTED: 1}

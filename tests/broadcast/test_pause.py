"""A broadcast waits out a provider's rate limit and sends the row again, instead of failing it."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from broadcastio import (
    DeliveryResult,
    ErrorCode,
    Message,
    MessageProvider,
    Orchestrator,
    RetryPolicy,
)
from broadcastio.broadcast import (
    BroadcastPause,
    Journal,
    RecipientState,
    RecipientStatus,
    broadcast,
)
from broadcastio.broadcast.pause import format_pause
from broadcastio.records.health import ProviderHealth


class CappedProvider(MessageProvider):
    """Answers RATE_LIMITED (with retry_after and a pause reason) for the sends numbered in
    ``limited``, delivers the others; records the reference id of every call."""

    name = "capped"

    def __init__(
        self, limited: set[int], retry_after: float = 0.05, reason: str | None = "hourly_cap"
    ) -> None:
        self.limited = limited
        self.retry_after = retry_after
        self.reason = reason
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            self.calls.append((str(message.recipient), message.metadata.reference_id))
            number = len(self.calls)
        if number in self.limited:
            extra = {} if self.reason is None else {"pause_reason": self.reason}
            return DeliveryResult.failed(
                self.name,
                ErrorCode.RATE_LIMITED,
                "hourly cap reached",
                retry_after=self.retry_after,
                **extra,
            )
        return DeliveryResult.delivered(self.name, f"m-{number}")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def messages(count: int) -> list[Message]:
    return [Message(f"+1555000{index:04d}", "hello") for index in range(count)]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_rate_limited_row_is_sent_again_once_the_window_reopens(
    tmp_path: Path, concurrency: int
) -> None:
    provider = CappedProvider(limited={2})
    pauses: list[BroadcastPause] = []
    orchestrator = Orchestrator([provider])
    journal_path = tmp_path / "journal.sqlite"
    report = broadcast(
        orchestrator,
        messages(5),
        journal=journal_path,
        broadcast_id="paused",
        concurrency=concurrency,
        on_pause=pauses.append,
    )
    assert report.delivered == 5 and report.failed == 0
    (pause,) = pauses
    assert pause.provider == "capped"
    assert pause.reason == "hourly_cap"
    assert pause.broadcast_id == "paused"
    assert pause.until.tzinfo is not None and pause.seconds > 0.05
    # The row that was held was sent again under the same reference id.
    limited_recipient, limited_reference = provider.calls[1]
    again = [ref for recipient, ref in provider.calls if recipient == limited_recipient]
    assert again == [limited_reference, limited_reference]
    with Journal(journal_path) as journal:
        states = {row.state for row in journal.rows("paused")}
    assert states == {RecipientState.DELIVERED}


def test_the_journal_row_says_paused_until_while_it_waits(tmp_path: Path) -> None:
    provider = CappedProvider(limited={1})
    seen: list[Any] = []
    with Journal(tmp_path / "journal.sqlite") as journal:

        def look(pause: BroadcastPause) -> None:
            (row,) = [row for row in journal.rows("noted") if row.recipient == pause.recipient]
            seen.append(row)

        report = broadcast(
            Orchestrator([provider]),
            messages(2),
            journal=journal,
            broadcast_id="noted",
            concurrency=1,
            on_pause=look,
        )
        (final,) = [row for row in journal.rows("noted") if row.recipient == seen[0].recipient]
    assert report.delivered == 2
    (row,) = seen
    assert row.state is RecipientState.IN_FLIGHT
    assert row.error_code == "RATE_LIMITED"
    assert row.error_message.startswith("paused until ") and "UTC (hourly_cap)" in row.error_message
    # The outcome replaces the note.
    assert final.state is RecipientState.DELIVERED and final.error_message is None


def test_the_pause_is_logged_once_with_paused_until(caplog: pytest.LogCaptureFixture) -> None:
    provider = CappedProvider(limited={1})
    with caplog.at_level(logging.WARNING, logger="broadcastio"):
        report = broadcast(Orchestrator([provider]), messages(2), concurrency=1)
    assert report.delivered == 2
    texts = [record.getMessage() for record in caplog.records]
    lines = [text for text in texts if "paused until" in text]
    assert len(lines) == 1
    assert "capped: paused until" in lines[0] and "hourly_cap" in lines[0]


def test_a_short_pause_without_a_reason_is_routine_and_logged_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = CappedProvider(limited={1}, reason=None)
    with caplog.at_level(logging.INFO, logger="broadcastio"):
        report = broadcast(Orchestrator([provider]), messages(2), concurrency=1)
    assert report.delivered == 2
    (record,) = [r for r in caplog.records if "paused until" in r.getMessage()]
    assert record.levelno == logging.INFO
    assert "hourly cap reached" in record.getMessage(), "the error's message stands in"


def test_max_pause_zero_keeps_the_old_behaviour_the_row_fails() -> None:
    provider = CappedProvider(limited={1})
    pauses: list[BroadcastPause] = []
    report = broadcast(
        Orchestrator([provider]), messages(2), concurrency=1, max_pause=0, on_pause=pauses.append
    )
    assert report.failed == 1 and report.delivered == 1
    assert pauses == []


def test_a_wait_longer_than_max_pause_fails_the_row() -> None:
    provider = CappedProvider(limited={1}, retry_after=7200)
    outcomes: list[Any] = []
    report = broadcast(
        Orchestrator([provider]),
        messages(1),
        concurrency=1,
        max_pause=3600,
        on_result=outcomes.append,
    )
    assert report.failed == 1
    (outcome,) = outcomes
    assert outcome.status is RecipientStatus.FAILED
    assert outcome.result.error.code is ErrorCode.RATE_LIMITED


def test_the_stop_event_ends_a_pause_and_the_row_keeps_its_rate_limit_failure(
    tmp_path: Path,
) -> None:
    provider = CappedProvider(limited={1}, retry_after=3600)
    stop = threading.Event()
    journal_path = tmp_path / "journal.sqlite"
    report = broadcast(
        Orchestrator([provider]),
        messages(3),
        journal=journal_path,
        broadcast_id="stopped",
        concurrency=1,
        stop=stop,
        on_pause=lambda _pause: stop.set(),
    )
    assert report.interrupted
    assert len(provider.calls) == 1, "nothing else was sent after the stop"
    with Journal(journal_path) as journal:
        (row,) = [row for row in journal.rows("stopped") if row.state is RecipientState.FAILED]
    assert row.error_code == "RATE_LIMITED"


@pytest.mark.parametrize("value", [-1, "soon", float("nan"), True])
def test_bad_max_pause_is_refused_naming_the_option(value: Any) -> None:
    from broadcastio import ValidationError
    from broadcastio.broadcast import BroadcastOptions

    with pytest.raises(ValidationError, match="max_pause"):
        BroadcastOptions(max_pause=value)


def test_format_pause_shows_the_local_time_and_the_date_when_not_today() -> None:
    now = _dt.datetime(2026, 12, 1, 9, 0, tzinfo=_dt.timezone.utc)
    soon = now + _dt.timedelta(minutes=30)
    assert format_pause(soon, now) == f"paused until {soon.astimezone():%H:%M}"
    later = now + _dt.timedelta(days=2)
    assert format_pause(later, now).endswith(f"on {later.astimezone():%Y-%m-%d}")


class FirstInChain(MessageProvider):
    """A provider ahead of the capped one that fails every send with ``code``; counts calls."""

    name = "mail"

    def __init__(self, code: ErrorCode) -> None:
        self.code = code
        self.calls: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        self.calls.append(str(message.recipient))
        return DeliveryResult.failed(self.name, self.code, f"{self.code.value} for the test")

    def health(self) -> ProviderHealth:
        return ProviderHealth(self.name, True)


def test_a_rate_limit_after_an_earlier_providers_timeout_is_not_resent(tmp_path: Path) -> None:
    # The first provider timed out (it may have delivered), then the fallback
    # was rate limited: sending the chain again would go through the first
    # provider a second time (a second email). The row keeps its outcome.
    first = FirstInChain(ErrorCode.TIMEOUT)
    capped = CappedProvider(limited={1})
    pauses: list[BroadcastPause] = []
    outcomes: list[Any] = []
    journal_path = tmp_path / "journal.sqlite"
    report = broadcast(
        Orchestrator([first, capped]),
        messages(1),
        journal=journal_path,
        broadcast_id="timed-out-first",
        concurrency=1,
        on_pause=pauses.append,
        on_result=outcomes.append,
    )
    assert first.calls == ["+15550000000"], "the timed-out provider was sent to once"
    assert len(capped.calls) == 1
    assert pauses == []
    # Ambiguous, not failed: the timed-out attempt may have delivered.
    assert (report.failed, report.ambiguous) == (0, 1)
    (outcome,) = outcomes
    assert outcome.status is RecipientStatus.AMBIGUOUS
    assert outcome.result.error.code is ErrorCode.RATE_LIMITED
    assert outcome.result.providers_tried == ("mail", "capped")
    assert outcome.result.trace is None, "the pause's own trace is not handed on"
    with Journal(journal_path) as journal:
        (row,) = journal.rows("timed-out-first")
    assert row.state is RecipientState.AMBIGUOUS and row.error_code == "RATE_LIMITED"


def test_a_rate_limit_after_an_earlier_providers_clear_failure_is_still_waited_out() -> None:
    # PROVIDER_UNAVAILABLE means nothing went out: sending the chain again is safe.
    first = FirstInChain(ErrorCode.PROVIDER_UNAVAILABLE)
    capped = CappedProvider(limited={1})
    pauses: list[BroadcastPause] = []
    outcomes: list[Any] = []
    report = broadcast(
        Orchestrator([first, capped]),
        messages(1),
        concurrency=1,
        on_pause=pauses.append,
        on_result=outcomes.append,
    )
    assert report.delivered == 1
    assert len(pauses) == 1
    assert len(first.calls) == 2 and len(capped.calls) == 2
    (outcome,) = outcomes
    assert outcome.result.trace is None


class TimesOutThenCapped(CappedProvider):
    """Its first call ends in ``TIMEOUT``, its second in a rate limit; then it delivers."""

    name = "capped"

    def __init__(self) -> None:
        super().__init__(limited={2})

    def send(self, message: Message) -> DeliveryResult:
        if not self.calls:
            with self._lock:
                self.calls.append((str(message.recipient), message.metadata.reference_id))
            return DeliveryResult.failed(self.name, ErrorCode.TIMEOUT, "no answer in time")
        return super().send(message)


# Retries its own TIMEOUT: the policy of a provider that deduplicates.
RETRIES_TIMEOUT = RetryPolicy(max_attempts=2, retry_on={ErrorCode.TIMEOUT})


def test_a_single_providers_own_timeout_retry_does_not_stop_the_pause() -> None:
    # One provider: its earlier TIMEOUT was retried because its policy says it
    # deduplicates, so sending again is as safe as that retry was.
    capped = TimesOutThenCapped()
    pauses: list[BroadcastPause] = []
    report = broadcast(
        Orchestrator([capped], retry_policies={"capped": RETRIES_TIMEOUT}),
        messages(1),
        concurrency=1,
        on_pause=pauses.append,
    )
    assert report.delivered == 1
    assert len(pauses) == 1
    assert len(capped.calls) == 3


def test_the_last_providers_own_timeout_in_a_chain_stops_the_pause() -> None:
    # In a chain, sending again goes through every provider again, whichever
    # attempt timed out: here the fallback's own first attempt.
    first = FirstInChain(ErrorCode.PROVIDER_UNAVAILABLE)
    capped = TimesOutThenCapped()
    pauses: list[BroadcastPause] = []
    report = broadcast(
        Orchestrator([first, capped], retry_policies={"capped": RETRIES_TIMEOUT}),
        messages(1),
        concurrency=1,
        on_pause=pauses.append,
    )
    assert (report.failed, report.ambiguous) == (0, 1)
    assert pauses == []
    assert len(first.calls) == 1 and len(capped.calls) == 2


class TraceRecording(Orchestrator):
    """An orchestrator that remembers the ``trace`` argument of every send."""

    def __init__(self, providers: list[MessageProvider]) -> None:
        super().__init__(providers)
        self.traced: list[bool] = []

    def send(
        self, message: Message, *, trace: bool = False, timeout: float | None = None
    ) -> DeliveryResult:
        self.traced.append(trace)
        return super().send(message, trace=trace, timeout=timeout)


def test_a_chain_is_sent_untraced_while_a_broadcast_may_pause() -> None:
    # The orchestrator's EARLIER_TIMEOUT mark says what a trace used to be
    # made for (about 2 us a send, and a copy of every result to drop it).
    first = FirstInChain(ErrorCode.PROVIDER_UNAVAILABLE)
    orchestrator = TraceRecording([first, CappedProvider(limited={1})])
    outcomes: list[Any] = []
    report = broadcast(orchestrator, messages(3), concurrency=1, on_result=outcomes.append)
    assert report.delivered == 3
    assert orchestrator.traced == [False] * 4  # three rows, one of them sent again
    assert all(outcome.result.trace is None for outcome in outcomes)


def test_a_pause_fires_on_wait_with_reason_pause(tmp_path: Path) -> None:
    from broadcastio import hookimpl

    waits: list[tuple[str, float, str]] = []

    class Listener:
        @hookimpl
        def on_wait(self, provider: str, seconds: float, reason: str) -> None:
            waits.append((provider, seconds, reason))

    orchestrator = Orchestrator([CappedProvider(limited={2})])
    orchestrator.plugin_manager.register(Listener())
    report = broadcast(orchestrator, messages(3), journal=tmp_path / "j.sqlite")

    assert report.delivered == 3
    # The row's own pause, once; the engine may also wait for what is left of the
    # provider's pause (reason "rate_limit") before the resend.
    pauses = [(provider, seconds) for provider, seconds, reason in waits if reason == "pause"]
    assert len(pauses) == 1 and pauses[0][0] == "capped"
    assert 0 < pauses[0][1] < 5  # the retry_after, plus the margin the pause adds

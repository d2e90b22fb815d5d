"""WhatsApp pacing on the Python side: the bridge's holds become RATE_LIMITED with the wait,
risk pauses reach health, and the provider's own optional pacing (gap, caps, warm-up)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ErrorCode, Message, ValidationError
from broadcastio_whatsapp import WhatsAppProvider, WhatsAppSettings
from broadcastio_whatsapp.pacing import Pacer, PacingSettings, parse_time

MESSAGE = Message("+15551234567", "hello")
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc).timestamp()


def provider_for(server, **settings: Any) -> WhatsAppProvider:
    return WhatsAppProvider(WhatsAppSettings(base_url=server.url, api_key="k", **settings))


class Clock:
    """Epoch seconds that only move when told (or when the pacer sleeps)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(clock: Clock, **settings: Any) -> Pacer:
    return Pacer(PacingSettings(**settings), clock=clock, sleep=clock.sleep, rng=random.Random(7))


# -- the bridge's answers ------------------------------------------------------------------


def held_body(reason: str, until: str, retry_after: int) -> dict[str, Any]:
    return {
        "error": {
            "code": "RATE_LIMITED",
            "message": f"Not sent: {reason}",
            "retryAfter": retry_after,
            "pausedUntil": until,
            "pauseReason": reason,
        }
    }


def test_a_cap_the_bridge_reached_is_rate_limited_with_the_wait_and_when_it_ends(
    scripted_server,
) -> None:
    scripted_server.script(
        429,
        held_body("hourly_cap", "2026-12-01T10:00:00.000Z", 1800),
        {"Retry-After": "1800"},
    )
    result = provider_for(scripted_server).send(MESSAGE)
    assert result.error is not None
    assert result.error.code is ErrorCode.RATE_LIMITED
    details = result.error.details
    assert details["retry_after"] == 1800
    assert details["paused_until"] == "2026-12-01T10:00:00.000Z"
    assert details["pause_reason"] == "hourly_cap"
    assert details["bridge_code"] == "RATE_LIMITED"


def test_a_risk_pause_the_bridge_reports_holds_the_provider_and_reaches_health(
    scripted_server,
) -> None:
    until = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()
    scripted_server.script(429, held_body("whatsapp_rate_limited", until, 3600))
    provider = provider_for(scripted_server)
    first = provider.send(MESSAGE)
    assert first.error is not None and first.error.details["pause_reason"] == (
        "whatsapp_rate_limited"
    )
    # The next send is refused by the provider itself: no request reaches the bridge.
    second = provider.send(MESSAGE)
    assert second.error is not None and second.error.code is ErrorCode.RATE_LIMITED
    assert second.error.details["held_by"] == "provider"
    assert 3500 < second.error.details["retry_after"] <= 3600
    assert len(scripted_server.requests) == 1

    scripted_server.script(200, {"state": "READY", "ready": True, "since": "x", "lastError": None})
    health = provider.health()
    assert health.ready is False
    assert "paused until" in health.details["reason"]
    assert health.details["provider_pacing"]["pause_reason"] == "whatsapp_rate_limited"


def test_health_reports_the_bridge_pacing_and_is_not_ready_during_its_risk_pause(
    scripted_server,
) -> None:
    pacing = {
        "enabled": True,
        "sentLastHour": 3,
        "sentLast24h": 40,
        "hourlyCap": 60,
        "dailyCap": 200,
        "warmupDay": None,
        "pausedUntil": "2026-12-01T10:00:00.000Z",
        "pauseReason": "session_logged_out",
        "riskPausedUntil": "2026-12-01T10:00:00.000Z",
    }
    session = {"state": "READY", "ready": True, "since": "x", "lastError": None}
    scripted_server.script(200, {**session, "pacing": pacing})
    health = provider_for(scripted_server).health()
    assert health.ready is False
    assert "session_logged_out" in health.details["reason"]
    assert health.details["pacing"]["sent_last_24h"] == 40
    assert "warmup_day" not in health.details["pacing"]

    # A cap's window is not a risk: ready stays what the session says, the pause is shown.
    scripted_server.script(
        200, {**session, "pacing": {**pacing, "pauseReason": "daily_cap", "riskPausedUntil": None}}
    )
    health = provider_for(scripted_server).health()
    assert health.ready is True
    assert health.details["pacing"]["pause_reason"] == "daily_cap"


def test_provider_pacing_is_off_by_default_and_sends_without_waiting(scripted_server) -> None:
    provider = provider_for(scripted_server)
    assert provider.settings.pacing.enabled is False
    for _ in range(3):
        scripted_server.script(201, {"id": "wamid"})
        assert provider.send(MESSAGE).success


def test_the_provider_hourly_cap_refuses_without_calling_the_bridge(scripted_server) -> None:
    provider = provider_for(scripted_server, pacing={"hourly_cap": 1, "min_gap": 0, "max_gap": 0})
    scripted_server.script(201, {"id": "wamid"})
    assert provider.send(MESSAGE).success
    refused = provider.send(MESSAGE)
    assert refused.error is not None and refused.error.code is ErrorCode.RATE_LIMITED
    assert refused.error.details["pause_reason"] == "hourly_cap"
    assert "pacing.hourly_cap" in refused.error.message
    assert len(scripted_server.requests) == 1


# -- the provider's own pacer (fake clock) ---------------------------------------------------


def test_gaps_are_random_and_within_bounds() -> None:
    clock = Clock()
    paced = pacer(clock, min_gap=10, max_gap=30, hourly_cap=0, daily_cap=0)
    for _ in range(50):
        assert paced.before_send() is None
        clock.now += 0.5  # the send itself
        paced.after_send(reached_whatsapp=True)
    gaps = clock.sleeps
    assert len(gaps) == 49
    assert all(10 <= gap <= 30 for gap in gaps)
    assert len({round(gap, 6) for gap in gaps}) > 40, "not one even interval"


@given(
    low=st.floats(min_value=0, max_value=3600),
    width=st.floats(min_value=0, max_value=3600),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_gap_lies_between_min_gap_and_max_gap(low: float, width: float, seed: int) -> None:
    high = min(low + width, 3600.0)
    paced = Pacer(PacingSettings(min_gap=low, max_gap=high), rng=random.Random(seed))
    for _ in range(5):
        assert low <= paced.gap() <= high


def test_hourly_and_daily_caps_on_a_fake_clock() -> None:
    clock = Clock()
    paced = pacer(clock, min_gap=0, max_gap=0, hourly_cap=2, daily_cap=3)
    for _ in range(2):
        assert paced.before_send() is None
        paced.after_send(reached_whatsapp=True)
        clock.now += 60
    held = paced.before_send()
    assert held is not None and held.reason == "hourly_cap" and held.until == T0 + 3600
    clock.now = T0 + 3600
    assert paced.before_send() is None
    paced.after_send(reached_whatsapp=True)
    clock.now = T0 + 7200
    held = paced.before_send()
    assert held is not None and held.reason == "daily_cap" and held.until == T0 + 86400


def test_a_send_that_never_reached_whatsapp_gives_its_booking_back() -> None:
    clock = Clock()
    paced = pacer(clock, min_gap=0, max_gap=0, hourly_cap=1)
    assert paced.before_send() is None
    paced.after_send(reached_whatsapp=False)
    assert paced.before_send() is None


def test_the_warm_up_schedule_caps_each_day_then_the_daily_cap_applies() -> None:
    clock = Clock(dt.datetime(2026, 12, 1, 20, 0, tzinfo=dt.timezone.utc).timestamp())
    settings = {"min_gap": 0, "max_gap": 0, "hourly_cap": 0, "daily_cap": 5}
    paced = pacer(clock, warmup_start="2026-12-01", warmup_caps=[1, 2], **settings)
    assert paced.before_send() is None
    paced.after_send(reached_whatsapp=True)
    held = paced.before_send()
    assert held is not None and held.reason == "warmup_cap" and held.limit == 1
    midnight = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc).timestamp()
    assert held.until == midnight
    assert paced.status()["warmup_day"] == 1
    clock.now = midnight
    assert paced.before_send() is None, "day 2 allows 2 in the rolling day"
    paced.after_send(reached_whatsapp=True)
    assert paced.before_send() is not None
    clock.now = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc).timestamp()
    assert paced.settings.daily_cap_at(clock.now) == 5


@pytest.mark.parametrize(
    ("pacing", "match"),
    [
        ({"min_gap": 20, "max_gap": 10}, "pacing.max_gap"),
        ({"hourly_cap": -1}, "pacing.hourly_cap"),
        ({"daily_cap": 2.5}, "pacing.daily_cap"),
        ({"warmup_start": "2026-12-01"}, "pacing.warmup_caps is missing"),
        ({"warmup_caps": [10]}, "pacing.warmup_start is missing"),
        ({"warmup_start": "2026-02-30", "warmup_caps": [1]}, "pacing.warmup_start must be a date"),
        ({"warmup_start": "2026-12-01", "warmup_caps": [10, 0]}, "day 2"),
        ({"hourlycap": 1}, "pacing has no setting 'hourlycap'"),
        ("fast", "pacing must be true, false or a table"),
    ],
)
def test_bad_pacing_settings_name_the_setting(pacing: Any, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        WhatsAppSettings(pacing=pacing)


def test_pacing_true_means_the_documented_defaults() -> None:
    settings = WhatsAppSettings(pacing=True).pacing
    assert (settings.enabled, settings.min_gap, settings.max_gap) == (True, 10.0, 30.0)
    assert (settings.hourly_cap, settings.daily_cap) == (60, 200)


def test_parse_time_reads_the_bridge_iso_times_only() -> None:
    assert parse_time("2026-12-01T10:00:00.000Z") == T0 + 3600
    assert parse_time("2026-12-01T10:00:00") is None, "no zone, no guess"
    assert parse_time("soon") is None
    assert parse_time(None) is None


# -- against the real bridge (fake driver, pacing on) -----------------------------------------


@pytest.fixture
def paced_bridge(tmp_path) -> Any:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    from local_bridge import BridgeStartError, LocalBridge

    try:
        bridge = LocalBridge(
            {
                "BRIDGE_API_KEY": "k",
                "BRIDGE_PACING": "1",
                "BRIDGE_MIN_INTERVAL_MS": "0",
                "BRIDGE_JITTER_MS": "0",
                "BRIDGE_HOURLY_CAP": "2",
                "BRIDGE_DATA_DIR": str(tmp_path / "bridge"),
            }
        )
    except BridgeStartError as error:
        pytest.fail(str(error))
    try:
        yield bridge
    finally:
        bridge.stop()


def test_the_real_bridge_hourly_cap_maps_to_rate_limited(paced_bridge) -> None:
    provider = WhatsAppProvider(WhatsAppSettings(base_url=paced_bridge.url, api_key="k"))
    assert provider.send(Message("+15550000001", "a")).success
    assert provider.send(Message("+15550000002", "b")).success
    held = provider.send(Message("+15550000003", "c"))
    assert held.error is not None and held.error.code is ErrorCode.RATE_LIMITED
    details = held.error.details
    assert details["pause_reason"] == "hourly_cap"
    assert 3000 < details["retry_after"] <= 3600
    assert parse_time(details["paused_until"]) is not None
    assert len(paced_bridge.sent()) == 2
    health = provider.health()
    assert health.ready is True, "a cap is not a risk signal"
    assert health.details["pacing"]["sent_last_hour"] == 2
    assert health.details["pacing"]["pause_reason"] == "hourly_cap"

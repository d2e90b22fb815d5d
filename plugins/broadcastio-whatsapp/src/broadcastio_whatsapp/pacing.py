"""The provider's own pacing: random spacing, hourly and daily caps, a warm-up schedule.

The bridge paces every send by default, with counters that survive its
restarts (``node-bridge/README.md``, "Pacing"). The provider can pace too, for
a bridge whose pacing is off or shared with other senders: ``pacing`` in the
provider's settings, off unless given, because two independent random gaps
in a row make every gap the larger of two draws. Whatever the settings, the
provider also honours a *risk pause* the bridge reports (WhatsApp's rate error,
a logout by WhatsApp): it stops calling the bridge until the pause ends, and
its health says so.

The numbers and their sources are in ``docs/whatsapp.md``. Counters here live
in the process: a new provider starts from zero (the bridge's do not).
"""

from __future__ import annotations

import collections
import datetime as _dt
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from broadcastio import DeliveryResult, ErrorCode, ProviderHealth, ValidationError
from broadcastio.records.checks import check_bool, check_int, check_iterable, check_number
from broadcastio.records.serialization import converter

__all__ = [
    "DEFAULT_DAILY_CAP",
    "DEFAULT_HOURLY_CAP",
    "DEFAULT_MAX_GAP",
    "DEFAULT_MIN_GAP",
    "Hold",
    "Pacer",
    "PacingSettings",
    "to_pacing",
]

DEFAULT_MIN_GAP = 10.0
DEFAULT_MAX_GAP = 30.0
DEFAULT_HOURLY_CAP = 60
DEFAULT_DAILY_CAP = 200
GAP_MAX = 3600.0
CAP_MAX = 1_000_000
WARMUP_DAYS_MAX = 366
_HOUR = 3600.0
_DAY = 86400.0


def _to_caps(value: Any) -> tuple[int, ...]:
    caps = tuple(check_iterable("pacing.warmup_caps", value, "daily caps (integers)"))
    return caps


def _check_date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        return value.isoformat()
    problem = f"pacing.warmup_start must be a date like 2026-12-01 (YYYY-MM-DD), got {value!r}"
    if not isinstance(value, str):
        raise ValidationError(problem, field="pacing.warmup_start")
    try:
        parsed = _dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(problem, field="pacing.warmup_start") from None
    if parsed.isoformat() != value:
        raise ValidationError(problem, field="pacing.warmup_start")
    return value


@attrs.frozen
class PacingSettings:
    """How the provider spaces and caps its sends (``[providers.whatsapp.pacing]``).

    ``min_gap``..``max_gap``: seconds between the end of one send and the start
    of the next, drawn uniformly at random each time (an even interval is a bot's
    signature). ``hourly_cap`` and ``daily_cap``: sends in any rolling 60 minutes
    and 24 hours; 0 means no cap. ``warmup_start`` (``YYYY-MM-DD``, day 1, UTC)
    and ``warmup_caps`` (one daily cap per day from the start): the ramp of a
    young number; a day's warm-up cap replaces the daily cap when lower, and after
    the last day the daily cap alone applies. ``enabled = false`` turns it all off.

    Ranges: gaps ``0..3600`` with ``min_gap <= max_gap``; caps ``0..1000000``;
    warm-up caps ``1..1000000``, at most 366 days, both warm-up keys or neither.
    """

    enabled: bool = True
    min_gap: float = DEFAULT_MIN_GAP
    max_gap: float = DEFAULT_MAX_GAP
    hourly_cap: int = DEFAULT_HOURLY_CAP
    daily_cap: int = DEFAULT_DAILY_CAP
    warmup_start: str | None = attrs.field(default=None, converter=_check_date)
    warmup_caps: tuple[int, ...] = attrs.field(default=(), converter=_to_caps)

    def __attrs_post_init__(self) -> None:
        check_bool("pacing.enabled", self.enabled)
        check_number("pacing.min_gap", self.min_gap, maximum=GAP_MAX)
        check_number("pacing.max_gap", self.max_gap, maximum=GAP_MAX)
        if self.max_gap < self.min_gap:
            raise ValidationError(
                f"pacing.max_gap ({self.max_gap:g}) must be >= pacing.min_gap ({self.min_gap:g})",
                field="pacing.max_gap",
            )
        check_int("pacing.hourly_cap", self.hourly_cap, minimum=0, maximum=CAP_MAX)
        check_int("pacing.daily_cap", self.daily_cap, minimum=0, maximum=CAP_MAX)
        if len(self.warmup_caps) > WARMUP_DAYS_MAX:
            raise ValidationError(
                f"pacing.warmup_caps lists {len(self.warmup_caps)} days; at most {WARMUP_DAYS_MAX}",
                field="pacing.warmup_caps",
            )
        for day, cap in enumerate(self.warmup_caps, start=1):
            check_int(
                f"pacing.warmup_caps (day {day})",
                cap,
                minimum=1,
                maximum=CAP_MAX,
                field="pacing.warmup_caps",
            )
        if (self.warmup_start is None) != (not self.warmup_caps):
            missing = "warmup_caps" if self.warmup_start is not None else "warmup_start"
            raise ValidationError(
                f"pacing.warmup_start and pacing.warmup_caps go together: pacing.{missing} "
                "is missing",
                field=f"pacing.{missing}",
            )

    def daily_cap_at(self, now: float) -> int:
        """The daily cap in force at ``now`` (epoch seconds); 0 = none."""
        warm = self.warmup_cap_at(now)
        if warm is None:
            return self.daily_cap
        return min(self.daily_cap, warm) if self.daily_cap > 0 else warm

    def warmup_day(self, now: float) -> int | None:
        """Day of the warm-up at ``now`` (1 = ``warmup_start``, 0 before it); ``None`` without."""
        if self.warmup_start is None:
            return None
        start = _dt.datetime.fromisoformat(self.warmup_start).replace(tzinfo=_dt.timezone.utc)
        elapsed = now - start.timestamp()
        return 0 if elapsed < 0 else int(elapsed // _DAY) + 1

    def warmup_cap_at(self, now: float) -> int | None:
        """The warm-up's cap for the day of ``now``; ``None`` outside the schedule."""
        day = self.warmup_day(now)
        if day is None or day < 1 or day > len(self.warmup_caps):
            return None
        return self.warmup_caps[day - 1]


PACING_OFF = PacingSettings(enabled=False)
"""The default: the bridge paces; the provider only honours its risk pauses."""


def to_pacing(value: Any) -> PacingSettings:
    """``pacing`` as written: a ``PacingSettings``, a table of its fields, or true/false."""
    if isinstance(value, PacingSettings):
        return value
    if isinstance(value, bool):
        return PacingSettings() if value else PACING_OFF
    if isinstance(value, Mapping):
        known = {field.name for field in attrs.fields(PacingSettings)}
        for key in value:
            if key not in known:
                raise ValidationError(
                    f"pacing has no setting {key!r}; expected one of: {', '.join(sorted(known))}",
                    field=f"pacing.{key}",
                )
        return PacingSettings(**value)
    raise ValidationError(
        f"pacing must be true, false or a table of pacing settings, got {value!r}",
        field="pacing",
    )


# A configuration file's ``pacing = false`` or ``pacing = { hourly_cap = 30 }``
# is read by the same rules as the keyword argument.
converter.register_structure_hook(PacingSettings, lambda value, _: to_pacing(value))


@attrs.frozen
class Hold:
    """Why a send may not go now, and until when (epoch seconds)."""

    reason: str
    until: float
    limit: int | None = None

    def describe(self) -> str:
        """The hold in the words of the setting that caused it."""
        texts = {
            "hourly_cap": f"the hourly cap of {self.limit} sends is reached (pacing.hourly_cap)",
            "daily_cap": f"the daily cap of {self.limit} sends is reached (pacing.daily_cap)",
            "warmup_cap": f"today's warm-up cap of {self.limit} sends is reached "
            "(pacing.warmup_caps)",
            "whatsapp_rate_limited": "the bridge paused sends after WhatsApp answered with "
            "a rate limit",
            "session_logged_out": "the bridge paused sends after WhatsApp logged the session out",
        }
        return texts.get(self.reason, f"sends are paused ({self.reason})")


RISK_REASONS = frozenset({"whatsapp_rate_limited", "session_logged_out"})
"""The bridge's pause reasons that are risk signals (not a cap's window)."""


class Pacer:
    """The provider's pacing state, shared by every thread sending through one provider.

    ``before_send()`` either returns a ``Hold`` (nothing may be sent; the caller
    answers ``RATE_LIMITED``) or waits for the random gap and books the send.
    Threads take turns: the wait happens under a lock, so a broadcast's worker
    threads are spaced like one sender. ``clock`` (epoch seconds), ``sleep`` and
    ``rng`` are parameters so tests drive them.
    """

    def __init__(
        self,
        settings: PacingSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._turn = threading.Lock()  # held while a sender waits for its gap
        self._state = threading.Lock()  # guards the counters below; never held while sleeping
        self._sends: collections.deque[float] = collections.deque()
        self._next_start = float("-inf")
        self._risk: Hold | None = None

    def gap(self) -> float:
        """One random gap, uniform in ``[min_gap, max_gap]`` seconds."""
        return self._rng.uniform(self.settings.min_gap, self.settings.max_gap)

    def hold(self) -> Hold | None:
        """What holds a send back now (the one that ends last), or ``None``."""
        now = self._clock()
        with self._state:
            return self._hold_locked(now)

    def _hold_locked(self, now: float) -> Hold | None:
        self._forget(now)
        holds: list[Hold] = []
        if self._risk is not None:
            holds.append(self._risk)
        settings = self.settings
        if settings.enabled:
            last_hour = [at for at in self._sends if at > now - _HOUR]
            if settings.hourly_cap and len(last_hour) >= settings.hourly_cap:
                until = last_hour[-settings.hourly_cap] + _HOUR
                holds.append(Hold("hourly_cap", until, settings.hourly_cap))
            daily = settings.daily_cap_at(now)
            if daily and len(self._sends) >= daily:
                warm = settings.warmup_cap_at(now)
                reason = "warmup_cap" if warm is not None and warm == daily else "daily_cap"
                holds.append(Hold(reason, self._daily_reopening(daily, now), daily))
        return max(holds, key=lambda hold: hold.until) if holds else None

    def _daily_reopening(self, cap: int, now: float) -> float:
        sends = list(self._sends)
        age_out = sends[-cap] + _DAY
        if self.settings.warmup_start is None:
            return age_out
        midnight = (now // _DAY + 1) * _DAY
        next_cap = self.settings.daily_cap_at(midnight)
        then = sum(1 for at in sends if at > midnight - _DAY)
        if midnight < age_out and (next_cap == 0 or then < next_cap):
            return midnight
        return age_out

    def before_send(self) -> Hold | None:
        """A ``Hold`` when nothing may be sent; otherwise wait for the gap, book the send."""
        with self._turn:
            held = self.hold()
            if held is not None:
                return held
            if self.settings.enabled:
                wait = self._next_start - self._clock()
                if wait > 0:
                    self._sleep(wait)
                    # A pause or a cap may have begun while this thread waited.
                    held = self.hold()
                    if held is not None:
                        return held
                with self._state:
                    self._sends.append(self._clock())
            return None

    def after_send(self, *, reached_whatsapp: bool) -> None:
        """The send ended: the next gap starts now. ``reached_whatsapp=False`` un-books it."""
        if not self.settings.enabled:
            return
        now = self._clock()
        with self._state:
            if not reached_whatsapp and self._sends:
                self._sends.pop()
                return
            self._next_start = now + self.gap()

    def pause(self, reason: str, until: float) -> None:
        """The bridge reported a risk pause until ``until`` (epoch seconds): honour it."""
        with self._state:
            if self._risk is None or self._risk.until < until:
                self._risk = Hold(reason, until)

    def status(self) -> dict[str, Any]:
        """Counters and holds for ``health()`` details (JSON-safe)."""
        now = self._clock()
        with self._state:
            held = self._hold_locked(now)
            settings = self.settings
            report: dict[str, Any] = {"enabled": settings.enabled}
            if settings.enabled:
                report["sent_last_hour"] = sum(1 for at in self._sends if at > now - _HOUR)
                report["sent_last_24h"] = len(self._sends)
                report["hourly_cap"] = settings.hourly_cap or None
                report["daily_cap"] = settings.daily_cap_at(now) or None
                report["warmup_day"] = settings.warmup_day(now)
            if held is not None:
                report["paused_until"] = iso_time(held.until)
                report["pause_reason"] = held.reason
            return report

    def refusal(self, provider: str, held: Hold) -> DeliveryResult:
        """The ``RATE_LIMITED`` result of a send held back, without calling the bridge.

        ``retry_after`` is the wait until the hold ends (the orchestrator pauses
        the provider that long, falls back, or the broadcast pauses), and
        ``paused_until`` says when, for people.
        """
        wait = max(1.0, held.until - self._clock())
        until = iso_time(held.until)
        return DeliveryResult.failed(
            provider,
            ErrorCode.RATE_LIMITED,
            f"not sent: {held.describe()}; sends resume at {until}",
            retry_after=wait,
            paused_until=until,
            pause_reason=held.reason,
            held_by="provider",
        )

    def after(self, result: DeliveryResult) -> None:
        """Account for a send's result: the gap starts, and a risk pause is learned.

        A send that cannot have reached WhatsApp (refused, unreachable bridge)
        gives its booking back; one that succeeded or may have (a timeout, a
        rejected send) keeps it.
        """
        error = result.error
        reached = error is None or error.code in (ErrorCode.TIMEOUT, ErrorCode.PROVIDER_REJECTED)
        self.after_send(reached_whatsapp=reached)
        if error is not None and error.code is ErrorCode.RATE_LIMITED:
            reason = error.details.get("pause_reason")
            until = parse_time(error.details.get("paused_until"))
            if reason in RISK_REASONS and until is not None:
                self.pause(str(reason), until)

    def annotate(self, health: ProviderHealth) -> ProviderHealth:
        """``health`` with this pacer's state; not ready while a risk pause holds."""
        risk = self.risk_pause()
        if risk is None and not self.settings.enabled:
            return health
        details = dict(health.details)
        details["provider_pacing"] = self.status()
        ready = health.ready
        if risk is not None and ready:
            ready = False
            details["reason"] = f"paused until {iso_time(risk.until)}: {risk.describe()}"
        return attrs.evolve(health, ready=ready, details=details)

    def risk_pause(self) -> Hold | None:
        """The risk pause in force, if any."""
        now = self._clock()
        with self._state:
            self._forget(now)
            return self._risk

    def _forget(self, now: float) -> None:
        sends = self._sends
        while sends and sends[0] <= now - _DAY:
            sends.popleft()
        if self._risk is not None and self._risk.until <= now:
            self._risk = None


def iso_time(epoch: float) -> str:
    """``epoch`` as an ISO 8601 UTC time to the second (``2026-12-01T10:00:00Z``)."""
    moment = _dt.datetime.fromtimestamp(epoch, _dt.timezone.utc).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time as the bridge writes it; ``None`` if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()

"""A broadcast waits out a provider's rate limit instead of failing every row behind it.

When the last provider of the chain answers ``RATE_LIMITED`` with a
``retry_after`` (the WhatsApp bridge's hourly or daily cap, a warm-up day's
cap, a pause after WhatsApp's own rate error), every row sent after it would
fail the same way until the window reopens. So the sending thread waits until
then (at most ``max_pause`` seconds), says so once through the log and
``on_pause`` ("paused until 14:05"), and sends the same message again, under
the same reference id, so a provider that deduplicates cannot send it twice.
Resending means running the whole chain again, so it is not done when an
attempt before the rate limit may have delivered already (a ``TIMEOUT``, the
one ``ErrorCode`` documented as "may or may not have gone out"): an email
provider ahead of WhatsApp that timed out would send a second email. Such a
row keeps its outcome as it is (``RATE_LIMITED`` after a ``TIMEOUT``, which the
journal records as ``ambiguous``) and the run goes on.
A stop event set while waiting ends the wait: the row keeps its
``RATE_LIMITED`` failure, which a resume with ``retry_failed`` sends again.
With a journal, the waiting row says "paused until ..." in its error column
meanwhile (``journal show``).

The policy reaches the sending threads through a context variable set in the
run's own context (every worker runs in a copy of it), so the worker pool
and ``send_recipient`` need no new parameter.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from broadcastio.errors import BroadcastioError
from broadcastio.errors.codes import ErrorCode
from broadcastio.engine.hook_caller import IsolatedHookCaller
from broadcastio.records.contact import recipient_key, shown_recipient
from broadcastio.records.result import EARLIER_TIMEOUT

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator
    from broadcastio.records.message import Message
    from broadcastio.records.result import DeliveryResult

__all__ = [
    "DEFAULT_MAX_PAUSE",
    "BroadcastPause",
    "OnPause",
    "PausePolicy",
    "format_pause",
    "install_pause_policy",
    "send_waiting_out_pauses",
    "wait_out_pauses",
]

logger = logging.getLogger("broadcastio")

DEFAULT_MAX_PAUSE = 86400.0
"""One day: the longest window a daily cap can keep closed (it is a rolling 24 hours)."""

PAUSE_MARGIN = 0.5
"""Waited past the provider's ``retry_after``, which is rounded to the second, so the
window has surely reopened when the row is sent again."""


NOTABLE_PAUSE = 120.0
"""A pause at least this long (seconds) is logged as a warning even without a reason."""


@attrs.frozen
class BroadcastPause:
    """A broadcast's sending thread waits for a provider's window to reopen.

    ``until`` is when (UTC, timezone-aware), ``seconds`` how long from the
    moment it started; ``provider`` is the provider that asked (``None`` if the
    result does not say) and ``reason`` the provider's own short reason when it
    gives one (the WhatsApp bridge's ``hourly_cap``, ``daily_cap``,
    ``warmup_cap``, ``whatsapp_rate_limited``, ``session_logged_out``), else
    the error's message.
    """

    broadcast_id: str
    recipient: str
    provider: str | None
    until: _dt.datetime
    seconds: float
    reason: str


OnPause = Callable[[BroadcastPause], object]
"""``on_pause``: called when a sending thread starts waiting out a rate limit (any thread)."""


def format_pause(until: _dt.datetime, now: _dt.datetime | None = None) -> str:
    """``paused until 14:05`` in local time, with the date when it is not today."""
    local = until.astimezone()
    today = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone().date()
    when = f"{local:%H:%M}" if local.date() == today else f"{local:%H:%M} on {local:%Y-%m-%d}"
    return f"paused until {when}"


@attrs.frozen
class PausePolicy:
    """How long a run may wait out a rate limit, what ends the wait, who is told.

    With a ``journal``, the waiting row (still ``in_flight``) gets the pause as
    its error (``RATE_LIMITED``, "paused until 2026-12-01 14:05 UTC
    (hourly_cap)"), so ``broadcastio journal show`` tells a paused run from a
    hung one.
    """

    broadcast_id: str
    max_pause: float = DEFAULT_MAX_PAUSE
    stop: threading.Event | None = None
    on_pause: OnPause | None = None
    journal: Journal | None = None
    # The latest pause announced, so N threads hitting one limit log it once.
    _announced: list[float] = attrs.field(factory=lambda: [0.0], eq=False, repr=False)
    _lock: threading.Lock = attrs.field(factory=threading.Lock, eq=False, repr=False)

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the stop event is set first; whether it was."""
        if self.stop is None:
            time.sleep(seconds)
            return False
        waiter = getattr(self.stop, "wait", None)
        if callable(waiter):
            return bool(waiter(seconds))
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.5))
        return True

    def first_to_announce(self, until: float) -> bool:
        """True for the first thread to report a pause ending at ``until`` (epoch)."""
        with self._lock:
            if until <= self._announced[0] + 60.0:
                return False
            self._announced[0] = until
            return True


_POLICY: contextvars.ContextVar[PausePolicy | None] = contextvars.ContextVar(
    "broadcastio_pause_policy", default=None
)


def install_pause_policy(policy: PausePolicy | None) -> None:
    """Make ``policy`` the one of sends made in the current context (a run's own)."""
    _POLICY.set(policy)


def _pause_seconds(result: DeliveryResult, max_pause: float) -> float | None:
    """How long ``result`` asks to wait, if it is a rate limit a run may wait out."""
    error = result.error
    if result.success or error is None or error.code is not ErrorCode.RATE_LIMITED:
        return None
    value = error.details.get("retry_after")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value <= 0 or value > max_pause:
        return None
    return float(value) + PAUSE_MARGIN


def _may_have_been_sent(result: DeliveryResult) -> bool:
    """Whether an earlier attempt of ``result``'s failed send may have delivered.

    ``TIMEOUT`` is the one code after which a message may have gone out
    (``ErrorCode``'s docs). The orchestrator marks a failure that followed
    one with ``error.details[EARLIER_TIMEOUT]`` (the final error is then some
    other code, such as the ``RATE_LIMITED`` being waited out), so the result
    says it without a trace; the journal's ``ambiguous`` state
    (``broadcast.states.state_of``) reads the same mark.
    """
    error = result.error
    return error is not None and EARLIER_TIMEOUT in error.details


def _announce_wait(orchestrator: Orchestrator, pause: BroadcastPause, message: Message) -> None:
    """Fire ``on_wait`` (reason ``"pause"``) for a row about to wait out a rate limit.

    Observers (the OpenTelemetry plugin's wait histogram) then count a
    broadcast's pauses like the engine's own waits. Built per pause, which is
    rare; a relay without the hook (or nobody listening) costs nothing more.
    """
    try:
        caller = IsolatedHookCaller(orchestrator.plugin_manager, "on_wait")
    except LookupError:
        return
    if caller.listeners:
        caller.call(
            {
                "provider": pause.provider or "",
                "seconds": pause.seconds,
                "reason": "pause",
                "message": message,
            }
        )


def send_waiting_out_pauses(
    orchestrator: Orchestrator, message: Message, broadcast_id: str
) -> DeliveryResult:
    """``orchestrator.send(message)``, waiting out and resending after rate limits.

    Without a policy in the context (a direct ``send_recipient`` call, a task
    queue worker), or with ``max_pause`` 0, this is one plain send.

    A rate limit that followed an attempt that may have delivered (a
    ``TIMEOUT`` of an earlier provider of the chain, which the result's
    ``EARLIER_TIMEOUT`` mark names) is not waited out: the result is returned
    as it is, since sending again would go through that provider again. That
    holds only for a chain of more than one provider: a single provider's
    earlier attempts are its own retries, and the orchestrator retries a
    ``TIMEOUT`` only where that provider's policy says it deduplicates, so
    sending again is as safe as those retries were.
    """
    return wait_out_pauses(orchestrator, message, broadcast_id, orchestrator.send(message))


def wait_out_pauses(
    orchestrator: Orchestrator, message: Message, broadcast_id: str, result: DeliveryResult
) -> DeliveryResult:
    """``send_waiting_out_pauses`` once ``result``, the first send's, has come back.

    For a caller that sent already and only calls this when the send did not
    succeed (``send_recipient``): nearly every row of a broadcast succeeds,
    and the call saved is a tenth of a fast provider's whole send.
    """
    policy = _POLICY.get()
    if policy is None:
        return result
    while True:
        if result.success:  # nearly every row: no call to look for a pause
            return result
        seconds = _pause_seconds(result, policy.max_pause)
        if seconds is None:
            return result
        ambiguous = len(orchestrator.providers) > 1 and _may_have_been_sent(result)
        if ambiguous:
            logger.info(
                "broadcast %s: %s: the rate limit is not waited out: an earlier attempt "
                "timed out and may have been delivered, so sending again could send twice",
                broadcast_id,
                shown_recipient(recipient_key(message.recipient)),
            )
            return result
        error = result.error
        assert error is not None
        reason = error.details.get("pause_reason")
        until = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=seconds)
        pause = BroadcastPause(
            broadcast_id=broadcast_id,
            recipient=recipient_key(message.recipient),
            provider=result.providers_tried[-1] if result.providers_tried else result.provider,
            until=until,
            seconds=seconds,
            reason=str(reason) if isinstance(reason, str) else error.message,
        )
        if policy.first_to_announce(until.timestamp()):
            # A short wait without a reason is a paced channel's queue being
            # full (routine with long random gaps): said at INFO. A cap or a
            # risk pause (the provider names it), or a long wait, is news.
            level = logging.WARNING if reason or seconds >= NOTABLE_PAUSE else logging.INFO
            logger.log(
                level,
                "broadcast %s: %s: %s (%s); the run resumes by itself, Ctrl-C stops it",
                broadcast_id,
                pause.provider or "the provider",
                format_pause(until),
                pause.reason,
            )
        if policy.journal is not None:
            note = f"paused until {until:%Y-%m-%d %H:%M} UTC ({pause.reason})"
            try:
                policy.journal.note_pause(broadcast_id, pause.recipient, error.code.value, note)
            except BroadcastioError as failure:
                # The note is for people; the send and its outcome do not depend on it.
                logger.debug("broadcast %s: could not note the pause: %s", broadcast_id, failure)
        if policy.on_pause is not None:
            try:
                policy.on_pause(pause)
            except Exception:  # noqa: BLE001 - a display callback must not end a send
                logger.warning("broadcast %s: on_pause raised", broadcast_id, exc_info=True)
        _announce_wait(orchestrator, pause, message)
        if policy.wait(seconds):
            return result
        result = orchestrator.send(message)

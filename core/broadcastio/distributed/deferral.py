"""A worker's answer to a rate limit: the message goes back on the queue until the window reopens.

In one process a broadcast waits out a provider's ``RATE_LIMITED`` answer
(``broadcast.pause``): the sending thread sleeps until the ``retry_after``,
then sends the same message again. A worker must not sleep like that: its
thread would hold a Dramatiq message for up to a day (the WhatsApp bridge's
daily cap), and the fleet's pause would make every other thread's send fail
at once with "the fleet's next slot is N s away", so a cap failed every
remaining row within seconds.

So a worker sends through ``send_recipient`` (``wait_out_pauses``) with a pause policy
whose stop event is always set: the policy does everything a local run does
when a pause starts (the same rule for what may be waited out, at most
``max_pause`` seconds, never after an attempt that may have delivered; the
journal row, still ``in_flight``, noted "paused until ..."; one log line per
pause), then returns the ``RATE_LIMITED`` result at once instead of
sleeping. ``PauseDeferral.send`` reports that pause to the deliverer, which
enqueues the same message again with the pause as Dramatiq's delay and
acknowledges the one it holds. The row keeps its reference id (the
provider's idempotency key) and stays claimable; the delayed message claims
it again once the window has reopened.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from broadcastio.broadcast.pause import (
    DEFAULT_MAX_PAUSE,
    BroadcastPause,
    PausePolicy,
    install_pause_policy,
)
from broadcastio.broadcast.task import RecipientOutcome, RecipientTask, send_recipient

if TYPE_CHECKING:
    from broadcastio.broadcast.journal import Journal
    from broadcastio.engine.orchestrator import Orchestrator

__all__ = ["MAX_QUEUE_DELAY", "PauseDeferral"]

MAX_QUEUE_DELAY = 6 * 86_400.0
"""The longest ``max_pause`` a worker takes (seconds): Dramatiq delays messages under 7 days."""


class PauseDeferral:
    """Sends that report a rate-limit pause instead of sleeping through it (one per worker).

    ``max_pause`` is the longest pause deferred (seconds, 0: none); a longer
    ``retry_after`` leaves the row's ``RATE_LIMITED`` failure as it is, as in
    a local run.
    """

    def __init__(self, journal: Journal, *, max_pause: float = DEFAULT_MAX_PAUSE) -> None:
        self.journal = journal
        self.max_pause = max_pause
        # Always set: the policy's wait returns at once (see the module's docstring).
        self._never_wait = threading.Event()
        self._never_wait.set()
        # One policy per broadcast, so N threads hitting one cap log it once.
        self._policies: dict[str, PausePolicy] = {}
        self._lock = threading.Lock()
        self._seen = threading.local()

    def send(
        self, orchestrator: Orchestrator, task: RecipientTask
    ) -> tuple[RecipientOutcome, BroadcastPause | None]:
        """Send a claimed ``task`` (outcome not committed) and the pause it ran into, if any.

        With a pause, the outcome is the ``RATE_LIMITED`` failure and the row
        still ``in_flight``, noted: the caller defers the message, and must not
        commit the outcome. Without one, committing it is the caller's job.
        """
        self._seen.pause = None
        install_pause_policy(self._policy(task.broadcast_id))
        try:
            outcome = send_recipient(orchestrator, task)
        finally:
            install_pause_policy(None)
        pause: BroadcastPause | None = self._seen.pause
        return outcome, pause

    def _policy(self, broadcast_id: str) -> PausePolicy:
        with self._lock:
            policy = self._policies.get(broadcast_id)
            if policy is None:
                policy = self._policies[broadcast_id] = PausePolicy(
                    broadcast_id=broadcast_id,
                    max_pause=self.max_pause,
                    stop=self._never_wait,
                    on_pause=self._remember,
                    journal=self.journal,
                )
            return policy

    def _remember(self, pause: BroadcastPause) -> None:
        # Called on the sending thread, inside ``send`` above.
        self._seen.pause = pause

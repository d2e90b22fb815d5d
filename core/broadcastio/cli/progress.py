"""The progress line of ``broadcastio broadcast``: one line on a terminal, redrawn in place.

Two things click's progress bar could not do for us:

* Rate and ETA count this run only. A resume reads the rows an earlier run
  delivered and skips them in a blink; click's average time per row then made
  the ETA ``00:00:00`` with minutes of sending left. Here the rate is the sends
  this run made per second since it started, and the ETA is the rows not yet
  done at that rate: skipped rows cost no time, so they do not count as speed.
  (Rows still ahead that will be skipped make the ETA an upper bound.)
* Log records never run into the line. While the line is shown, the handlers
  that write to stderr write through ``LineAwareStream``, which wipes the line
  first and draws it again after the record.

While a sending thread waits out a provider's rate limit (a channel's hourly
or daily cap), the ETA gives way to ``paused until 14:05``: the run is not
hanging, and the line says when it goes on.

The line is redrawn at most ``REDRAW_SECONDS`` apart (a fast broadcast
would otherwise spend its time writing to the terminal), and always at the end.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import shutil
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from broadcastio.broadcast.pause import format_pause

if TYPE_CHECKING:
    from broadcastio.broadcast import BroadcastPause, RecipientOutcome

__all__ = ["BroadcastProgress", "LineAwareStream", "format_eta"]

REDRAW_SECONDS = 0.1
_BAR_WIDTH = 20
_DELIVERED = ("delivered", "already_delivered")
_FAILED = ("failed", "ambiguous", "not_retried")


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS`` rounded up, or ``--:--:--`` while there is no rate to estimate from.

    Rounded up so that the estimate reads ``0:00:00`` only when nothing is left.
    """
    if seconds is None:
        return "--:--:--"
    whole = math.ceil(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class BroadcastProgress:
    """Counts a run's outcomes and shows them on ``stream`` as one line (if ``enabled``).

    ``total`` is the number of rows in the input. ``clock`` is a monotonic
    clock in seconds (a parameter so tests can drive it). Use as a context
    manager: entering draws the line and routes stderr log handlers around it,
    leaving draws it a last time and ends it with a newline.
    """

    def __init__(
        self,
        total: int,
        stream: IO[str],
        *,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.sent = 0
        self.delivered = 0
        self.failed = 0
        self._stream = stream
        self._enabled = enabled
        self._clock = clock
        self._started = clock()
        self._drawn_at: float | None = None
        self._shown = ""  # the text currently on the terminal's last line
        # Reentrant: the Ctrl-C handler may print while the main thread is drawing.
        self._lock = threading.RLock()
        self._rerouted: list[tuple[logging.StreamHandler[Any], Any]] = []
        self.paused_until: _dt.datetime | None = None

    # -- what is shown ------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Sends per second in this run, ``None`` before the first one completes."""
        elapsed = self._clock() - self._started
        if self.sent == 0 or elapsed <= 0:
            return None
        return self.sent / elapsed

    @property
    def eta_seconds(self) -> float | None:
        """Seconds until every row is done at this run's rate (``None``: no rate yet)."""
        remaining = max(self.total - self.done, 0)
        if remaining == 0:
            return 0.0
        rate = self.rate
        return None if rate is None else remaining / rate

    def line(self) -> str:
        """The progress line as it would be drawn now."""
        percent = 100 * self.done // self.total if self.total else 100
        filled = _BAR_WIDTH * self.done // self.total if self.total else _BAR_WIDTH
        rate = self.rate
        speed = "-" if rate is None else f"{rate:.1f}"
        paused = self.paused_until
        if paused is not None and paused > _dt.datetime.now(_dt.timezone.utc):
            outlook = format_pause(paused)
        else:
            outlook = f"ETA {format_eta(self.eta_seconds)}"
        return (
            f"broadcasting [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {percent:3d}% "
            f"{self.done}/{self.total}  {self.delivered} delivered, {self.failed} failed  "
            f"{speed} msg/s  {outlook}"
        )

    def pause(self, pause: BroadcastPause) -> None:
        """A sending thread waits out a rate limit: show until when (callable from any thread)."""
        with self._lock:
            if self.paused_until is None or pause.until > self.paused_until:
                self.paused_until = pause.until
            self._draw()

    # -- counting -----------------------------------------------------------------------

    def update(self, outcome: RecipientOutcome) -> None:
        """Count one outcome and redraw the line if it is due."""
        status = str(outcome.status)
        self.done += 1
        if outcome.sent:
            self.sent += 1
        if status in _DELIVERED:
            self.delivered += 1
        elif status in _FAILED:
            self.failed += 1
        now = self._clock()
        due = self._drawn_at is None or now - self._drawn_at >= REDRAW_SECONDS
        if due or self.done == self.total:
            self._draw(now)

    # -- the terminal line --------------------------------------------------------------

    def _draw(self, now: float | None = None) -> None:
        if not self._enabled:
            return
        with self._lock:
            # One character short of the width: a line that wraps cannot be redrawn.
            width = shutil.get_terminal_size().columns - 1
            text = self.line()[: max(width, 1)]
            padding = " " * max(len(self._shown) - len(text), 0)
            self._stream.write(f"\r{text}{padding}")
            self._stream.flush()
            self._shown = text
            self._drawn_at = self._clock() if now is None else now

    def clear(self) -> None:
        """Wipe the line (if shown) so the next write starts at the left margin."""
        with self._lock:
            if self._shown:
                self._stream.write("\r" + " " * len(self._shown) + "\r")
                self._shown = ""

    def write_above(self, text: str) -> None:
        """Write ``text`` (whole lines) where the line was, then draw the line below it."""
        with self._lock:
            shown = bool(self._shown)
            self.clear()
            self._stream.write(text)
            self._stream.flush()
            if shown and text.endswith("\n"):
                self._draw()

    def __enter__(self) -> BroadcastProgress:
        if self._enabled:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is self._stream:
                    previous = handler.setStream(LineAwareStream(self, self._stream))
                    if previous is not None:
                        self._rerouted.append((handler, previous))
            self._draw()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handler, stream in self._rerouted:
            handler.setStream(stream)
        self._rerouted.clear()
        if self._enabled:
            with self._lock:
                self._draw()
                self._stream.write("\n")
                self._stream.flush()
                self._shown = ""


class LineAwareStream:
    """A text stream for log handlers that writes around a ``BroadcastProgress`` line.

    A record is usually one ``write`` of a whole line; a partial write waits in
    a buffer until its newline, so a record is never split by a redraw.
    """

    def __init__(self, progress: BroadcastProgress, stream: IO[str]) -> None:
        self._progress = progress
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self._progress.write_above(complete + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

"""``broadcastio broadcast --queue``: the command's distributed path.

The command checks every row, builds the chain (for the reachability check)
and opens the journal exactly as for a single-process run; then, instead of
sending, it hands the rows to ``submit_broadcast``, which enqueues one
message per recipient for ``broadcastio worker`` processes and watches the
journal. Outcomes reach the progress line and ``--results`` as the rows
settle, so what a person sees is what a local run shows. Ctrl-C while
enqueuing stops enqueuing (the rest stays pending for a resume); Ctrl-C while
watching stops watching: the workers deliver what was enqueued.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from broadcastio.cli.state import CliState

if TYPE_CHECKING:
    from broadcastio.broadcast import Journal, RecipientOutcome
    from broadcastio.distributed import SubmittedBroadcast
    from broadcastio.records.message import Message

__all__ = ["submit"]


def submit(
    state: CliState,
    messages: Iterator[Message],
    *,
    journal: Journal,
    broadcast_id: str,
    queue_url: str,
    retry_failed: bool,
    detach: bool,
    total: int,
    results_path: Path | None,
    start_line: str | None,
    stop: threading.Event,
) -> SubmittedBroadcast:
    """Submit the broadcast to the queue; with ``detach``, return once it is enqueued."""
    from broadcastio.cli.broadcast import _first_interrupt_stops, _open_results, _results_line
    from broadcastio.cli.progress import BroadcastProgress
    from broadcastio.distributed import submit_broadcast

    show_progress = not state.quiet and not detach and sys.stderr.isatty()
    progress = BroadcastProgress(total, sys.stderr, enabled=show_progress)
    with contextlib.ExitStack() as stack:
        stack.callback(journal.close)
        stack.enter_context(_first_interrupt_stops(stop, progress.write_above))
        results = stack.enter_context(_open_results(results_path))
        stack.enter_context(progress)

        def announce(run: int) -> None:
            if start_line is not None:
                progress.write_above(start_line + "\n")

        def on_outcome(outcome: RecipientOutcome) -> None:
            progress.update(outcome)
            if results is not None:
                results.write(_results_line(outcome.to_dict()))
                results.flush()

        return submit_broadcast(
            messages,
            journal=journal,
            broadcast_id=broadcast_id,
            queue_url=queue_url,
            retry_failed=retry_failed,
            detach=detach,
            stop=stop,
            on_begin=announce,
            on_outcome=on_outcome,
        )


def detached_line(submitted: SubmittedBroadcast, show_command: str) -> str:
    """What a detached submission prints: how many went to the queue, and how to follow it."""
    return (
        f"broadcast {submitted.broadcast_id} (run {submitted.run}): {submitted.enqueued} "
        f"recipients queued for the workers, {submitted.skipped} skipped; "
        f"follow it with: {show_command}"
    )

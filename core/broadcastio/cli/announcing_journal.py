"""``AnnouncingJournal``: the broadcast command's journal, which says when a run really starts.

The command used to print "starting broadcast ID" before the run existed, so a
run refused because the id was live elsewhere printed "starting" and then the
refusal. The run's claim on its id is taken in ``Journal.begin_run``, at the
start of iteration deep inside ``BroadcastRun``; this subclass calls
``on_begin(run)`` right after it succeeds (claim held, file checked, nothing
read or sent yet), which is the moment the line is true. Its own module so the
command imports the journal machinery only when it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from broadcastio.broadcast import Journal

__all__ = ["AnnouncingJournal"]


class AnnouncingJournal(Journal):
    """A ``Journal`` that calls ``on_begin(run)`` once ``begin_run`` has claimed the broadcast.

    ``on_begin`` is set by whoever shows the start (``None``: nothing is
    called); what it raises propagates, as from ``begin_run`` itself.
    """

    on_begin: Callable[[int], object] | None = None

    def begin_run(self, broadcast_id: str) -> int:
        """``Journal.begin_run``, then ``on_begin(run)``."""
        run = super().begin_run(broadcast_id)
        if self.on_begin is not None:
            self.on_begin(run)
        return run

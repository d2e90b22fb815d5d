"""``BroadcastReport``: the totals of one run of a broadcast, and the tally that builds it."""

from __future__ import annotations

import datetime as _dt

import attrs

from broadcastio.broadcast.states import RecipientStatus
from broadcastio.broadcast.task import RecipientOutcome
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.serialization import JsonRecord

__all__ = ["BroadcastReport", "ReportTally"]


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class BroadcastReport(JsonRecord):
    """What one run of a broadcast did, in totals; JSON-safe through ``to_dict``.

    Every input row read is counted exactly once, in one of ``delivered``,
    ``failed``, ``ambiguous`` (sent in this run), ``duplicates``,
    ``already_delivered``, ``not_retried`` or ``not_sent`` (not sent; see
    ``RecipientStatus``), so they add up to ``total``. ``failed_by_code`` splits
    ``failed`` by error code; ambiguous rows are counted apart, not in it (they
    ended in ``TIMEOUT``, or in another failure after an attempt that timed out:
    ``broadcast.states.state_of``). ``delivered_by_provider`` splits
    ``delivered`` by the provider that took it.

    ``run`` is 1 for a broadcast id's first run and goes up with each resume (it
    is always 1 without a journal). ``throughput`` is sends per second of
    ``elapsed_seconds``. ``interrupted`` is true when the run ended before its
    input did (a stop event, Ctrl-C, an error); the journal then has the rest as
    pending or not at all, and a resume picks it up.
    """

    broadcast_id: str
    run: int
    started_at: _dt.datetime
    finished_at: _dt.datetime
    elapsed_seconds: float
    total: int = 0
    delivered: int = 0
    failed: int = 0
    ambiguous: int = 0
    duplicates: int = 0
    already_delivered: int = 0
    not_retried: int = 0
    not_sent: int = 0
    failed_by_code: dict[ErrorCode, int] = attrs.field(factory=dict)
    delivered_by_provider: dict[str, int] = attrs.field(factory=dict)
    throughput: float = 0.0
    interrupted: bool = False
    journal: str | None = None

    @property
    def sent(self) -> int:
        """Messages handed to the provider chain in this run."""
        return self.delivered + self.failed + self.ambiguous

    @property
    def skipped(self) -> int:
        """Input rows this run did not send, whatever the reason."""
        return self.total - self.sent

    @property
    def complete(self) -> bool:
        """True when nothing is left to do: every row delivered now or before, or a duplicate."""
        return (
            not self.interrupted
            and self.total == self.delivered + self.already_delivered + self.duplicates
        )


_DELIVERED = RecipientStatus.DELIVERED


class ReportTally:
    """Counts outcomes as they arrive; ``report`` freezes the counts into a ``BroadcastReport``.

    Used from one thread only (the one consuming the broadcast), so it needs no lock.
    """

    __slots__ = ("by_code", "by_provider", "counts")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(RecipientStatus, 0)
        self.by_code: dict[ErrorCode, int] = {}
        self.by_provider: dict[str, int] = {}

    @property
    def total(self) -> int:
        """Outcomes counted so far (summed when asked: ``add`` runs once per row)."""
        return sum(self.counts.values())

    def add(self, outcome: RecipientOutcome) -> None:
        """Count one outcome (once per row: the delivered case comes first, with few lookups)."""
        status = outcome.status
        self.counts[status] += 1
        result = outcome.result
        if result is None:
            return
        if status is _DELIVERED:
            provider = result.provider
            if provider is not None:
                by_provider = self.by_provider
                by_provider[provider] = by_provider.get(provider, 0) + 1
        elif status is RecipientStatus.FAILED and result.error is not None:
            code = result.error.code
            self.by_code[code] = self.by_code.get(code, 0) + 1

    def report(
        self,
        *,
        broadcast_id: str,
        run: int,
        started_at: _dt.datetime,
        finished_at: _dt.datetime,
        elapsed_seconds: float,
        interrupted: bool,
        journal: str | None,
    ) -> BroadcastReport:
        """The counts so far as a report."""
        counts = self.counts
        sent = (
            counts[RecipientStatus.DELIVERED]
            + counts[RecipientStatus.FAILED]
            + counts[RecipientStatus.AMBIGUOUS]
        )
        return BroadcastReport(
            broadcast_id=broadcast_id,
            run=run,
            started_at=started_at,
            finished_at=finished_at,
            elapsed_seconds=elapsed_seconds,
            total=self.total,
            delivered=counts[RecipientStatus.DELIVERED],
            failed=counts[RecipientStatus.FAILED],
            ambiguous=counts[RecipientStatus.AMBIGUOUS],
            duplicates=counts[RecipientStatus.DUPLICATE],
            already_delivered=counts[RecipientStatus.ALREADY_DELIVERED],
            not_retried=counts[RecipientStatus.NOT_RETRIED],
            not_sent=counts[RecipientStatus.NOT_SENT],
            failed_by_code=dict(sorted(self.by_code.items())),
            delivered_by_provider=dict(sorted(self.by_provider.items())),
            throughput=sent / elapsed_seconds if elapsed_seconds > 0 else 0.0,
            interrupted=interrupted,
            journal=journal,
        )

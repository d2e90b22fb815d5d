"""Claims from many connections at once: atomic per row, and never of a delivered row.

Each thread has its own ``Journal`` (its own connection: on PostgreSQL its own
server session, as separate workers would), and all claim the same rows at
once. Every claim that answers "yes" must be counted in the row's
``attempts`` (no lost update), and once a row is delivered no claim may take
it again. Runs on both backends (``journal_url``).
"""

from __future__ import annotations

import threading

from broadcastio import DeliveryResult, Message
from broadcastio.broadcast import Journal, RecipientState, RecipientTask

BROADCAST = "contended"
CLAIMERS = 4
ROWS = 60


def tasks(run: int) -> list[RecipientTask]:
    return [
        RecipientTask(BROADCAST, run, index, Message(f"+1555{index:07d}", "hi"), None, 0)
        for index in range(ROWS)
    ]


def claim_everything(journal_url: str, run: int) -> list[list[bool]]:
    """Every claimer claims every row (one row per call, as workers do), all at once."""
    start = threading.Barrier(CLAIMERS)
    answers: list[list[bool]] = [[] for _ in range(CLAIMERS)]
    failures: list[BaseException] = []

    def claimer(number: int) -> None:
        try:
            with Journal(journal_url) as journal:
                start.wait()
                for task in tasks(run):
                    answers[number] += journal.mark_in_flight([task])
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return answers


def test_concurrent_claims_are_counted_and_a_delivered_row_is_never_claimed(
    journal_url: str,
) -> None:
    with Journal(journal_url) as journal:
        run = journal.begin_run(BROADCAST)
        journal.admit(BROADCAST, run, [(task.index, task.message) for task in tasks(run)])
    answers = claim_everything(journal_url, run)
    with Journal(journal_url) as journal:
        rows = {row.position: row for row in journal.rows(BROADCAST)}
        for index in range(ROWS):
            granted = sum(answers[n][index] for n in range(CLAIMERS))
            assert rows[index].attempts == granted == CLAIMERS
            assert rows[index].state is RecipientState.IN_FLIGHT
        delivered = tasks(run)[: ROWS // 2]
        for task in delivered:
            journal.record_outcome(
                task, RecipientState.DELIVERED, DeliveryResult.delivered("dummy", "m")
            )
    again = claim_everything(journal_url, run)
    for number in range(CLAIMERS):
        assert again[number][: ROWS // 2] == [False] * (ROWS // 2)
        assert again[number][ROWS // 2 :] == [True] * (ROWS - ROWS // 2)
    with Journal(journal_url) as journal:
        for row in journal.rows(BROADCAST):
            expected = CLAIMERS if row.position < ROWS // 2 else 2 * CLAIMERS
            assert row.attempts == expected

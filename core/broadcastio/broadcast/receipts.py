"""Syncing receipts: ask each delivered row's provider what became of its message, and journal it.

``sync_receipts`` reads the broadcast's delivered rows a page at a time,
groups them by the provider instance that delivered them (the name the
journal recorded), asks each provider that reports receipts
(``MessageProvider.supports_receipts``) for the page's message ids in one
``fetch_receipts`` call, records what changed (``journal.receipts``) and fires
``on_receipt`` for each change once it is committed. Rows of providers
without receipts, or not in the chain, stay "unknown". A provider that cannot
be asked is reported in the result and not asked again in the same sync: the
rows of the others are still synced.

``wait_for_receipts`` repeats the sync until every row that can have a
receipt got at least to the device (or the channel reported an error), or the
time is up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from broadcastio.broadcast.journal.receipts import (
    ReceiptChange,
    awaiting_receipts,
    record_receipts,
)
from broadcastio.broadcast.journal.store import Journal
from broadcastio.engine.hook_caller import IsolatedHookCaller
from broadcastio.errors import BroadcastioError
from broadcastio.records.receipt import Receipt, ReceiptState

__all__ = ["ReceiptSync", "sync_receipts", "wait_for_receipts"]

logger = logging.getLogger("broadcastio")


@attrs.frozen
class ReceiptSync:
    """What one sync did.

    ``asked`` counts the message ids sent to providers, ``changes`` the
    receipts recorded because they told something new. ``waiting`` counts the
    delivered rows, of providers that report receipts, not yet at the device
    (nor reported failed) after this sync. ``without_receipts`` maps each
    provider name that has no receipts (or is not in the chain) to its row
    count; ``failures`` maps a provider that could not be asked to the error.
    """

    asked: int = 0
    changes: tuple[ReceiptChange, ...] = ()
    waiting: int = 0
    without_receipts: Mapping[str, int] = attrs.field(factory=dict)
    failures: Mapping[str, BroadcastioError] = attrs.field(factory=dict)


def sync_receipts(orchestrator: Any, journal: Journal, broadcast_id: str) -> ReceiptSync:
    """Pull the receipts of ``broadcast_id``'s delivered rows from their providers; journal them.

    ``orchestrator`` supplies the providers (``orchestrator.providers``, by
    instance name) and the plugin manager ``on_receipt`` fires on. ``journal``
    must be open for writing. An unknown broadcast id raises ``ValidationError``.
    """
    providers = {provider.name: provider for provider in orchestrator.providers}
    on_receipt = _hook(orchestrator)
    asked, waiting = 0, 0
    changes: list[ReceiptChange] = []
    without: dict[str, int] = {}
    failures: dict[str, BroadcastioError] = {}
    for page in awaiting_receipts(journal, broadcast_id):
        by_provider: dict[str, list[tuple[str, str, ReceiptState | None]]] = {}
        for recipient, provider_name, message_id, state in page:
            by_provider.setdefault(provider_name, []).append((recipient, message_id, state))
        found: list[tuple[str, str, Receipt]] = []
        for name, rows in by_provider.items():
            provider = providers.get(name)
            if provider is None or not getattr(provider, "supports_receipts", False):
                without[name] = without.get(name, 0) + len(rows)
                continue
            if name in failures:
                waiting += len(rows)
                continue
            asked += len(rows)
            try:
                receipts = provider.fetch_receipts([message_id for _, message_id, _ in rows])
            except BroadcastioError as error:
                logger.warning("receipts of provider %r: %s", name, error.message)
                failures[name] = error
                waiting += len(rows)
                continue
            for recipient, message_id, state in rows:
                receipt = receipts.get(message_id)
                if receipt is not None:
                    found.append((recipient, name, receipt))
                    state = _later(state, receipt.state)
                if not _settled(state):
                    waiting += 1
        page_changes = record_receipts(journal, broadcast_id, found)
        changes += page_changes
        for change in page_changes:
            on_receipt(change)
    return ReceiptSync(
        asked=asked,
        changes=tuple(changes),
        waiting=waiting,
        without_receipts=without,
        failures=failures,
    )


def wait_for_receipts(
    orchestrator: Any,
    journal: Journal,
    broadcast_id: str,
    seconds: float,
    *,
    interval: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ReceiptSync:
    """Sync until nothing is ``waiting`` or ``seconds`` have passed; the last sync's result.

    At least one sync runs (``seconds=0`` is exactly one). ``interval`` is the
    pause between syncs (default: a tenth of ``seconds``, between 0.5 and 5
    seconds). A provider that failed is asked again at the next sync: a
    bridge restarting during the wait is not the end of it. The changes of
    every sync are in the result.
    """
    deadline = clock() + seconds
    pause = interval if interval is not None else min(5.0, max(0.5, seconds / 10))
    changes: list[ReceiptChange] = []
    while True:
        result = sync_receipts(orchestrator, journal, broadcast_id)
        changes += result.changes
        left = deadline - clock()
        if result.waiting == 0 or left <= 0:
            return attrs.evolve(result, changes=tuple(changes))
        sleep(min(pause, left))


def _later(stored: ReceiptState | None, new: ReceiptState) -> ReceiptState:
    if stored is None:
        return new
    if new is ReceiptState.ERROR:
        return stored if stored.at_least(ReceiptState.DEVICE) else new
    if stored is ReceiptState.ERROR:
        return new if new.at_least(ReceiptState.DEVICE) else stored
    return new if new.rank > stored.rank else stored


def _settled(state: ReceiptState | None) -> bool:
    """At the device (or further), or reported failed: nothing more to wait for."""
    if state is None:
        return False
    return state is ReceiptState.ERROR or state.at_least(ReceiptState.DEVICE)


def _hook(orchestrator: Any) -> Callable[[ReceiptChange], None]:
    """A function firing ``on_receipt`` for a change (nothing when nobody listens)."""
    try:
        caller = IsolatedHookCaller(orchestrator.plugin_manager, "on_receipt")
    except (LookupError, AttributeError):
        return lambda change: None
    if not caller.listeners:
        return lambda change: None

    def fire(change: ReceiptChange) -> None:
        caller.call(
            {
                "broadcast_id": change.broadcast_id,
                "recipient": change.recipient,
                "provider": change.provider,
                "receipt": change.receipt,
                "previous": change.previous,
            }
        )

    return fire

"""Per-send overhead of the orchestrator: ``make bench``.

Measures microseconds per ``Orchestrator.send`` through one in-process provider
whose ``send`` returns a prebuilt result, so the figure is the orchestrator's own
cost (validation, health cache, attempt loop, result, trace, hooks) and not a
provider's. For context it also sends through ``DummyProvider``, which does a
little real work per message (a lock, a uuid4, a list append).

Timing is best-of-N repeats of a tight loop (the minimum is the least disturbed
by other load on a shared machine); compare rows within one run, not across runs.
Targets from the core issue, on the reference 2-core machine: trace off <= 3 us,
trace on <= 6 us.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from broadcastio import (
    DeliveryAttempt,
    DeliveryResult,
    Message,
    MessageProvider,
    Orchestrator,
    ProviderHealth,
    hookimpl,
)
from broadcastio_dummy import DummyProvider


class ConstantProvider(MessageProvider):
    """Always delivers, returning the same result object: no per-send work of its own."""

    name = "constant"

    def __init__(self) -> None:
        self._result = DeliveryResult.delivered(self.name, "constant-1")
        self._health = ProviderHealth(self.name, True)

    def send(self, message: Message) -> DeliveryResult:
        return self._result

    def health(self) -> ProviderHealth:
        return self._health


class CountingHook:
    """One ``on_attempt`` hook implementation, as a metrics plugin would have."""

    def __init__(self) -> None:
        self.count = 0

    @hookimpl
    def on_attempt(self, attempt: DeliveryAttempt) -> None:
        self.count += 1


def best_of(run: Callable[[], None], loops: int, repeats: int) -> float:
    """Microseconds per call: the fastest of ``repeats`` runs of ``loops`` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(loops):
            run()
        best = min(best, time.perf_counter() - started)
    return best / loops * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", type=int, default=100_000, help="sends per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the best is kept")
    args = parser.parse_args(argv)

    message = Message("+15551234567", "benchmark")
    plain = Orchestrator([ConstantProvider()])
    hooked = Orchestrator([ConstantProvider()])
    hooked.plugin_manager.register(CountingHook())
    # DummyProvider remembers a bounded window of what it sent (keep_sent).
    dummy = Orchestrator([DummyProvider()])

    def send_dummy() -> None:
        dummy.send(message)

    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("send, trace off", lambda: plain.send(message), 3.0),
        ("send, trace on", lambda: plain.send(message, trace=True), 6.0),
        ("send, trace off, one on_attempt hook", lambda: hooked.send(message), None),
        ("send, trace on, one on_attempt hook", lambda: hooked.send(message, trace=True), None),
        ("send via DummyProvider, trace off", send_dummy, None),
    ]
    print(f"broadcastio send overhead (best of {args.repeats} x {args.loops} sends)")
    print(f"{'case':<42} {'us/send':>8}  target")
    failed = False
    baseline = None
    for label, run, target in cases:
        micros = best_of(run, args.loops, args.repeats)  # type: ignore[arg-type]
        baseline = baseline or micros
        verdict = ""
        if target is not None:
            verdict = f"<= {target:.0f} us {'ok' if micros <= target else 'MISSED'}"
            failed |= micros > target
        print(f"{label:<42} {micros:8.2f}  {verdict}  ({micros / baseline:.2f}x trace off)")
    if failed:
        print("a target was missed; rerun on a quiet machine before concluding anything")
    return 0


if __name__ == "__main__":
    sys.exit(main())

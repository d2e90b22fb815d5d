"""The demo `make demo` runs: one real send through a provider discovered via entry points.

It builds the orchestrator exactly as an application would, from the installed
plugins, sends one message with tracing on, and prints the result and its trace
as JSON. The embedded default needs nothing outside this machine: the dummy
provider plugin, with a flaky first attempt so the trace shows a retry.
"""

from __future__ import annotations

import json
import logging
import sys

from broadcastio import Message, Orchestrator, RetryPolicy


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    orchestrator = Orchestrator.from_plugins(
        ["dummy"],
        settings={"dummy": {"fail_first": 1, "fail_code": "PROVIDER_UNAVAILABLE"}},
        retry_policy=RetryPolicy(max_attempts=3, backoff="exponential", base_delay=0.05),
    )
    print(f"providers discovered via entry points: {[p.name for p in orchestrator.providers]}")
    message = Message(
        "+15551234567",
        "Nightly backup finished: 42 GiB in 6 min.",
        metadata={"tags": ["backup"], "host": "db-1"},
    )
    result = orchestrator.send(message, trace=True)
    status = "delivered" if result.success else "FAILED"
    print(f"{status} via {result.provider}, message id {result.message_id}")
    assert result.trace is not None
    for attempt in result.trace.attempts:
        outcome = "ok" if attempt.success else f"{attempt.error.code}"  # type: ignore[union-attr]
        print(f"  attempt {attempt.provider}#{attempt.attempt}: {outcome} ({attempt.duration_ms:.3f} ms)")
    print("result as JSON:")
    print(json.dumps(result.to_dict(), indent=2))
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())

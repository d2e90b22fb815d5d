"""The demo `make demo` runs: WhatsApp through the node-bridge, with a fallback.

The fallback here is the dummy provider, a *test double*: it delivers nothing,
and is used only because the chain names it. It stands in for the real second
channel (email) a production chain would have; the output says so.

1. Starts the node-bridge with its fake WhatsApp driver on a free loopback port.
2. Builds the orchestrator as an application would: providers discovered through
   their entry points, WhatsApp first, the dummy test double as fallback.
3. Sends a message; it goes out through WhatsApp (the fake records it).
4. Stops the bridge and sends again: WhatsApp is now unreachable, the attempt
   and its retry fail with PROVIDER_UNAVAILABLE, and the dummy delivers. The trace
   shows every attempt.
5. Shuts everything down.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from local_bridge import BridgeStartError, LocalBridge  # noqa: E402

from broadcastio import DeliveryResult, Message, Orchestrator, RetryPolicy  # noqa: E402


def show(title: str, result: DeliveryResult) -> None:
    print(f"\n== {title}")
    status = "delivered" if result.success else "FAILED"
    if result.provider == "dummy":
        status = "accepted (the dummy is a test double: nothing was sent)"
    print(f"{status} via {result.provider}; message id {result.message_id}")
    assert result.trace is not None
    for attempt in result.trace.attempts:
        outcome = (
            "ok" if attempt.error is None else f"{attempt.error.code}: {attempt.error.message}"
        )
        print(
            f"  attempt {attempt.provider}#{attempt.attempt} "
            f"({attempt.duration_ms:.1f} ms): {outcome}"
        )
    for health in result.trace.skipped:
        print(f"  skipped {health.provider}: {health.details.get('reason')}")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    api_key = secrets.token_urlsafe(24)
    print("starting node-bridge (fake WhatsApp driver) on loopback...")
    try:
        # Its log (JSON lines) is captured, not shown; the listening line needs "info".
        bridge = LocalBridge({"BRIDGE_API_KEY": api_key, "BRIDGE_LOG_LEVEL": "info"})
    except BridgeStartError as error:
        print(f"demo: could not start the node-bridge: {error}", file=sys.stderr)
        return 2
    try:
        print(f"bridge listening at {bridge.url}")
        orchestrator = Orchestrator.from_plugins(
            # The dummy as fallback is for trying things out: it delivers nothing.
            ["whatsapp", "dummy"],
            settings={"whatsapp": {"base_url": bridge.url, "api_key": api_key}},
            retry_policy=RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.2),
        )
        print(
            f"providers discovered via entry points, in order: "
            f"{[provider.name for provider in orchestrator.providers]}"
        )

        first = orchestrator.send(
            Message(
                "+15551234567",
                "Nightly backup finished: 42 GiB in 6 min.",
                metadata={"tags": ["backup"], "host": "db-1"},
            ),
            trace=True,
        )
        show("send 1: bridge up", first)
        for sent in bridge.sent():
            print(f"  the fake WhatsApp received: to={sent['to']} text={sent['text']!r}")
    finally:
        print("\nstopping the bridge...")
        bridge.stop()

    second = orchestrator.send(Message("+15551234567", "Disk 91% full on db-1"), trace=True)
    show("send 2: bridge down, fallback to the dummy test double", second)
    print("\ntrace of send 2 as JSON:")
    print(json.dumps(second.to_dict(), indent=2))
    return 0 if first.success and second.success and second.provider == "dummy" else 1


if __name__ == "__main__":
    sys.exit(main())

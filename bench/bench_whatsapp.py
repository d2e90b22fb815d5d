"""WhatsApp provider throughput against the node-bridge: ``make bench``.

Sends N messages one after another through ``WhatsAppProvider.send`` to the
bridge's fake driver, and N requests with the same JSON body and headers
through a bare ``requests.Session().post`` loop to the same bridge, in the same
run. The bare loop is the physical limit of this machine, this bridge and
requests; the figure that matters is the provider's share of it (target >= 0.85).

The bridge runs with no pacing (``BRIDGE_MIN_INTERVAL_MS=0``) and every request
carries a fresh idempotency key, so both loops do the same work on the bridge:
validation, queue, fake delivery, idempotency record. The two loops alternate
for several rounds and each keeps its best round, which damps the noise of a
shared machine; compare the ratio, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_bridge import LocalBridge  # noqa: E402

from broadcastio import Message  # noqa: E402
from broadcastio_whatsapp import WhatsAppProvider, idempotency_key  # noqa: E402

RECIPIENT = "+15551234567"
TEXT = "Nightly backup finished: 42 GiB in 6 min."


def provider_round(provider: WhatsAppProvider, messages: list[Message]) -> float:
    started = time.perf_counter()
    for message in messages:
        result = provider.send(message)
        if not result.success:
            raise SystemExit(f"provider send failed: {result.error}")
    return len(messages) / (time.perf_counter() - started)


def bare_round(url: str, api_key: str, messages: list[Message]) -> float:
    session = requests.Session()
    body = {"to": RECIPIENT, "text": TEXT}
    keys = [idempotency_key(message) for message in messages]
    started = time.perf_counter()
    for key in keys:
        response = session.post(
            f"{url}/v1/messages",
            json=body,
            headers={"X-Api-Key": api_key, "Accept": "application/json", "Idempotency-Key": key},
            timeout=(5, 60),
        )
        if response.status_code != 201:
            raise SystemExit(f"bare post failed: {response.status_code} {response.text[:200]}")
    elapsed = time.perf_counter() - started
    session.close()
    return len(keys) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="sequential sends per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; best kept")
    args = parser.parse_args(argv)

    api_key = secrets.token_urlsafe(24)
    with LocalBridge(
        {
            "BRIDGE_API_KEY": api_key,
            "BRIDGE_MIN_INTERVAL_MS": "0",
            "BRIDGE_JITTER_MS": "0",
            "BRIDGE_LOG_LEVEL": "info",
        }
    ) as bridge:
        provider = WhatsAppProvider(base_url=bridge.url, api_key=api_key)
        # Warm both paths (connection set-up, JIT of the bridge's hot code).
        warm = [Message(RECIPIENT, TEXT) for _ in range(200)]
        provider_round(provider, warm)
        bare_round(bridge.url, api_key, [Message(RECIPIENT, TEXT) for _ in range(200)])

        best_provider = best_bare = 0.0
        for _ in range(args.rounds):
            bridge.reset()  # keep the fake's record of sent messages from growing
            best_bare = max(
                best_bare,
                bare_round(bridge.url, api_key, [Message(RECIPIENT, TEXT) for _ in range(args.n)]),
            )
            bridge.reset()
            best_provider = max(
                best_provider,
                provider_round(provider, [Message(RECIPIENT, TEXT) for _ in range(args.n)]),
            )
        provider.close()

    ratio = best_provider / best_bare
    print(f"WhatsApp throughput, N={args.n} sequential sends, best of {args.rounds} rounds")
    print(f"{'bare requests.Session().post loop':<36} {best_bare:8.0f} msg/s")
    print(f"{'WhatsAppProvider.send':<36} {best_provider:8.0f} msg/s")
    print(f"{'ratio (target >= 0.85)':<36} {ratio:8.2f}  {'ok' if ratio >= 0.85 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

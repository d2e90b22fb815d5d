"""The bridge's sends/s with its durable SQLite store vs the in-memory one: ``make bench``.

Two node-bridges with the fake driver and pacing off run side by side in the same
run: one with ``BRIDGE_STORE=memory`` (what the bridge had before: keys, messages
and number lookups in maps, lost on restart), one with ``BRIDGE_STORE=sqlite`` in a
temporary ``BRIDGE_DATA_DIR`` with the default ``BRIDGE_STORE_SYNC=normal`` (every
write survives ``kill -9``). ``--sync full`` measures the setting that also fsyncs
each send's in-flight claim (survives a power cut): one fsync per send.

Each round posts N sends to each bridge, one after another over one keep-alive
connection, every send with a fresh ``Idempotency-Key`` and its own recipient, so
each is a full send: key claimed (in flight, on disk before the fake "delivers"),
number looked up and cached, message and its ack stored, the fake's delivery
recorded, key completed. The two bridges alternate (the order flipped each round)
and each keeps its best round, which damps the noise of a shared machine. The
figure is the SQLite bridge's best over the memory bridge's best; the target is
>= 0.8. Compare the ratio, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from local_bridge import LocalBridge  # noqa: E402

TARGET = 0.8
TEXT = "Nightly backup finished: 42 GiB in 6 min."


def send_round(bridge: LocalBridge, first_number: int, count: int) -> float:
    """Sends/s of ``count`` sequential sends to distinct numbers, each with a fresh key."""
    session = requests.Session()
    headers = {"X-Api-Key": str(bridge.api_key), "Accept": "application/json"}
    started = time.perf_counter()
    for number in range(first_number, first_number + count):
        response = session.post(
            f"{bridge.url}/v1/messages",
            json={"to": f"+1555{number:07d}", "text": TEXT},
            headers={**headers, "Idempotency-Key": secrets.token_hex(16)},
            timeout=(5, 60),
        )
        if response.status_code != 201:
            raise SystemExit(f"send failed: {response.status_code} {response.text[:200]}")
    elapsed = time.perf_counter() - started
    session.close()
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="sequential sends per round")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds; best kept")
    parser.add_argument(
        "--sync", choices=["normal", "full"], default="normal", help="BRIDGE_STORE_SYNC"
    )
    args = parser.parse_args(argv)

    common = {
        "BRIDGE_API_KEY": secrets.token_urlsafe(24),
        "BRIDGE_MIN_INTERVAL_MS": "0",
        "BRIDGE_JITTER_MS": "0",
        "BRIDGE_LOG_LEVEL": "info",
    }
    with tempfile.TemporaryDirectory(prefix="bench-bridge-store-") as data_dir:
        with (
            LocalBridge({**common, "BRIDGE_STORE": "memory"}) as memory,
            LocalBridge(
                {
                    **common,
                    "BRIDGE_STORE": "sqlite",
                    "BRIDGE_DATA_DIR": data_dir,
                    "BRIDGE_STORE_SYNC": args.sync,
                }
            ) as durable,
        ):
            bridges = {"memory": memory, "sqlite": durable}
            # Warm both (connection set-up, the bridges' JIT, SQLite's first pages).
            for bridge in bridges.values():
                send_round(bridge, 9_000_000, 200)
            best = dict.fromkeys(bridges, 0.0)
            for round_number in range(args.rounds):
                order = list(bridges) if round_number % 2 == 0 else list(reversed(bridges))
                for name in order:
                    # A fresh start each round: the fake's record and the stores stay small
                    # for both alike, and every number is new to the lookup cache.
                    bridges[name].reset()
                    rate = send_round(bridges[name], round_number * args.n, args.n)
                    best[name] = max(best[name], rate)

    ratio = best["sqlite"] / best["memory"]
    print(
        f"Bridge store, N={args.n} sequential sends with fresh keys, "
        f"best of {args.rounds} alternating rounds, fake driver, pacing off"
    )
    print(f"{'BRIDGE_STORE=memory':<40} {best['memory']:8.0f} sends/s")
    print(f"{f'BRIDGE_STORE=sqlite (sync {args.sync})':<40} {best['sqlite']:8.0f} sends/s")
    verdict = "ok" if ratio >= TARGET else "MISSED"
    print(f"{f'ratio (target >= {TARGET})':<40} {ratio:8.2f}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The process ``test_crash_resume`` kills: a journaled WhatsApp broadcast to a bridge.

Run as ``python crash_child.py --url URL --api-key KEY --journal PATH --broadcast-id ID``.
It prints the report as JSON if it is allowed to finish (the test does not let it).
``messages`` is imported by the test so the resumed run reads the same input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from broadcastio import Message, Orchestrator
from broadcastio.broadcast import broadcast
from broadcastio_whatsapp import WhatsAppProvider

RECIPIENTS = 500


def messages(count: int = RECIPIENTS) -> Iterator[Message]:
    """The broadcast's input: one personalised text per recipient, generated lazily."""
    for number in range(count):
        yield Message(f"+1555{number:07d}", f"Your pickup code is {number:04d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--journal", required=True)
    parser.add_argument("--broadcast-id", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)
    with WhatsAppProvider(base_url=args.url, api_key=args.api_key) as provider:
        report = broadcast(
            Orchestrator([provider]),
            messages(),
            concurrency=args.concurrency,
            journal=args.journal,
            broadcast_id=args.broadcast_id,
        )
    json.dump(report.to_dict(), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The demo `make demo` runs: a message that gets through when its first channel is down.

1. Starts the node-bridge with its fake WhatsApp driver, and an SMTP server, both
   on free loopback ports (nothing leaves this machine).
2. Builds the orchestrator as an application would: providers discovered through
   their entry points, WhatsApp first, an email instance ("mail") second.
3. Sends to a contact who has a phone number and an email address: WhatsApp
   delivers (the fake records it), and no email is sent.
4. Stops the bridge and sends again: WhatsApp's health check says the bridge is
   unreachable, so it is passed over, and the email arrives at the SMTP server,
   which prints what it received. The trace shows what was tried.
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
from local_smtp import SmtpServer  # noqa: E402

from broadcastio import Contact, DeliveryResult, Message, Orchestrator, RetryPolicy  # noqa: E402

PERSON = Contact({"phone": "+15551234567", "email": "oncall@example.com"}, id="oncall")


def show(title: str, result: DeliveryResult) -> None:
    print(f"\n== {title}")
    status = "delivered" if result.success else "NOT delivered"
    print(f"{status} via {result.provider}; message id {result.message_id}")
    assert result.trace is not None
    for health in result.trace.skipped:
        print(f"  passed over {health.provider}: {health.details.get('reason')}")
    for attempt in result.trace.attempts:
        outcome = (
            "ok" if attempt.error is None else f"{attempt.error.code}: {attempt.error.message}"
        )
        print(
            f"  attempt {attempt.provider}#{attempt.attempt} "
            f"({attempt.duration_ms:.1f} ms): {outcome}"
        )


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # aiosmtpd reports each session at INFO; the demo prints what matters itself.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    api_key = secrets.token_urlsafe(24)
    print("starting node-bridge (fake WhatsApp driver) and an SMTP server on loopback...")
    try:
        # Its log (JSON lines) is captured, not shown; the listening line needs "info".
        bridge = LocalBridge({"BRIDGE_API_KEY": api_key, "BRIDGE_LOG_LEVEL": "info"})
    except BridgeStartError as error:
        print(f"demo: could not start the node-bridge: {error}", file=sys.stderr)
        return 2
    smtp = SmtpServer().start()
    try:
        print(f"bridge at {bridge.url}; SMTP server at {smtp.host}:{smtp.port}")
        orchestrator = Orchestrator.from_plugins(
            ["whatsapp", "mail"],
            settings={
                "whatsapp": {"base_url": bridge.url, "api_key": api_key},
                # A second channel: an instance of the email provider named "mail".
                # Plain SMTP is fine on loopback; a real server wants "starttls".
                "mail": {
                    "type": "email",
                    "host": smtp.host,
                    "port": smtp.port,
                    "security": "none",
                    "from_address": "Alerts <alerts@example.com>",
                },
            },
            retry_policy=RetryPolicy(max_attempts=2, backoff="fixed", base_delay=0.2),
            health_ttl=None,
            timeout=30,
        )
        print(
            "chain, from the installed plugins: "
            f"{[provider.name for provider in orchestrator.providers]}"
        )
        print(f"recipient: {PERSON.addresses} (id {PERSON.id})")

        with orchestrator:
            first = orchestrator.send(
                Message(PERSON, "Nightly backup finished: 42 GiB in 6 min.", title="Backup"),
                trace=True,
            )
            show("send 1: bridge up", first)
            for sent in bridge.sent():
                print(f"  the fake WhatsApp received: to={sent['to']} text={sent['text']!r}")
            print(f"  the SMTP server received {len(smtp.messages)} message(s)")

            print("\nstopping the bridge...")
            bridge.stop()
            second = orchestrator.send(
                Message(PERSON, "Disk 91% full on db-1", title="db-1: disk almost full"),
                trace=True,
            )
            show("send 2: bridge down, fallback to email", second)
        for received in smtp.messages:
            print("  the SMTP server received:")
            for header in ("From", "To", "Subject", "Message-ID"):
                print(f"    {header}: {received[header]}")
            print(f"    body: {received.get_content().strip()!r}")
        print("\ntrace of send 2 as JSON:")
        print(json.dumps(second.to_dict(), indent=2))
    finally:
        bridge.stop()
        smtp.stop()
    delivered_by_email = second.provider == "mail" and len(smtp.messages) == 1
    return 0 if first.success and first.provider == "whatsapp" and delivered_by_email else 1


if __name__ == "__main__":
    sys.exit(main())

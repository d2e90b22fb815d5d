"""Test data: examples/minimal.py of the 0.3.0a2 release, verbatim.

Copied unchanged from tag v0.3.0a2 of https://github.com/naufalhilmiaji/broadcastio
(the seed this project publishes after). tests/compat/test_seed_readme.py runs
it against this release. Do not edit it to make a test pass: fix the library.
"""

from __future__ import annotations

MINIMAL_EXAMPLE = '''\
"""
minimal.py

Minimal broadcastio usage.
Goal: send a single message successfully.

SECURITY NOTE:
Do NOT hardcode real phone numbers.
Use environment variables instead.
"""

try:
    from dotenv import load_dotenv

    load_dotenv()
except ImportError:
    pass

import os

from broadcastio.records.message import Message
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.providers.dummy import DummyProvider
from broadcastio.providers.whatsapp import WhatsAppProvider

# ---------------------------------------------------------------------------
# Recipient (loaded from environment)
# ---------------------------------------------------------------------------

RECIPIENT = os.getenv("BROADCASTIO_TEST_RECIPIENT")

if not RECIPIENT:
    raise RuntimeError(
        "Environment variable BROADCASTIO_TEST_RECIPIENT is not set.\\n"
        "Example:\\n"
        "  export BROADCASTIO_TEST_RECIPIENT='+628XXXXXXXXX'\\n"
        '  setx BROADCASTIO_TEST_RECIPIENT "+628XXXXXXXXX"  (Windows)'
    )


# ---------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------

whatsapp = WhatsAppProvider("http://localhost:3000")
dummy = DummyProvider()


# ---------------------------------------------------------------------------
# Orchestrator
# ---------------------------------------------------------------------------

orch = Orchestrator(
    providers=[whatsapp, dummy],
)


# ---------------------------------------------------------------------------
# Send message
# ---------------------------------------------------------------------------

msg = Message(
    recipient=RECIPIENT,
    content="Hello from broadcastio 👋",
)

result = orch.send(msg)

print("Success:", result.success)
print("Provider:", result.provider)
print("Message ID:", result.message_id)
'''

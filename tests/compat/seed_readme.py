"""Test data: the Python examples of the 0.3.0a2 README, verbatim.

Copied unchanged from README.md at tag v0.3.0a2 of
https://github.com/naufalhilmiaji/broadcastio (the seed this project grew from
and whose distribution name it publishes under), in the order the README shows
them. Its users wrote exactly this; tests/compat/test_seed_readme.py runs it
against this release. Do not edit these strings to make a test pass: fix the
library instead.
"""

from __future__ import annotations

SEED_URL = "http://localhost:3000"

QUICK_START = '''\
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.providers.whatsapp import WhatsAppProvider
from broadcastio.records.message import Message

wa = WhatsAppProvider("http://localhost:3000")
orch = Orchestrator([wa])

result = orch.send(
    Message(
        recipient="6281234567890",
        content="Hello from broadcastio"
    )
)

print(result)
'''

ATTACHMENTS = '''\
from broadcastio.core.attachment import Attachment

Message(
    recipient="6281234567890",
    content="Daily report",
    attachment=Attachment(
        host_path="shared_files/report.xlsx",
        provider_path="/app/shared_files/report.xlsx",
        filename="report.xlsx"
    )
)
'''

ERROR_HANDLING = '''\
if not result.success:
    print(result.error.code, result.error.message)
'''

OBSERVABILITY = '''\
def log_attempt(attempt):
    print(attempt.provider, attempt.success)

orch = Orchestrator([wa], on_attempt=log_attempt)
'''

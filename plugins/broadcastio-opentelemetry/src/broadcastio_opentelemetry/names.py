"""The names this plugin emits: spans, events, metrics and attributes, in one place.

Where OpenTelemetry's messaging semantic conventions name a thing, their name
is used (``messaging.*``, ``error.type``); what they do not cover is under
``broadcastio.``. docs/observability.md lists them all in one table.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTEMPT",
    "BROADCAST_AMBIGUOUS",
    "BROADCAST_CONCURRENCY",
    "BROADCAST_DELIVERED",
    "BROADCAST_FAILED",
    "BROADCAST_ID",
    "BROADCAST_INTERRUPTED",
    "BROADCAST_NOT_SENT",
    "BROADCAST_RUN",
    "BROADCAST_SPAN",
    "BROADCAST_TOTAL",
    "CHAIN",
    "DURATION_BUCKETS",
    "ERROR_TYPE",
    "MESSAGE_ID",
    "MESSAGE_ID_HASH",
    "METRIC_HEALTH",
    "METRIC_OPERATION_DURATION",
    "METRIC_SENT_MESSAGES",
    "METRIC_WAIT_DURATION",
    "OPERATION_NAME",
    "OPERATION_TYPE",
    "PROVIDER",
    "PROVIDERS_TRIED",
    "RECIPIENT_HASH",
    "REFERENCE_ID_HASH",
    "SKIP_EVENT",
    "SKIP_REASON",
    "SYSTEM",
    "WAIT_EVENT",
    "WAIT_REASON",
    "WAIT_SECONDS",
]

# -- messaging semantic conventions ---------------------------------------------------
SYSTEM: Final = "messaging.system"
"""The provider type (``whatsapp``, ``email``): the messaging system spoken to."""
OPERATION_NAME: Final = "messaging.operation.name"
OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGE_ID: Final = "messaging.message.id"
"""The provider's id of the delivered message; never for a provider whose ids contain the
recipient's address (``MessageProvider.message_ids_contain_address``)."""
ERROR_TYPE: Final = "error.type"
"""The ``ErrorCode`` value of a failure (``PROVIDER_UNAVAILABLE``), or an exception's type."""

METRIC_SENT_MESSAGES: Final = "messaging.client.sent.messages"
METRIC_OPERATION_DURATION: Final = "messaging.client.operation.duration"
DURATION_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)
"""The bucket boundaries (seconds) the conventions ask for on the duration histogram."""

# -- broadcastio's own ----------------------------------------------------------------
PROVIDER: Final = "broadcastio.provider.name"
"""The provider instance (``alerts-mail``); two instances of one type differ only here."""
CHAIN: Final = "broadcastio.chain"
"""The instance names of the chain, in order."""
ATTEMPT: Final = "broadcastio.attempt"
"""The 1-based attempt number through that provider."""
PROVIDERS_TRIED: Final = "broadcastio.providers_tried"
RECIPIENT_HASH: Final = "broadcastio.recipient.hash"
"""HMAC-SHA256 of the recipient under the user's key; only when they opt in."""
REFERENCE_ID_HASH: Final = "broadcastio.message.reference_id_hash"
"""HMAC-SHA256 of ``metadata.reference_id`` under the user's key; only when they opt in
(a broadcast's reference id is an unkeyed digest of its id and the recipient)."""
MESSAGE_ID_HASH: Final = "broadcastio.message.id_hash"
"""HMAC-SHA256 of a message id that contains the recipient's address, in place of
``messaging.message.id``; only when the user opts in."""

SKIP_EVENT: Final = "provider skipped"
SKIP_REASON: Final = "broadcastio.skip.reason"
WAIT_EVENT: Final = "wait"
WAIT_REASON: Final = "broadcastio.wait.reason"
WAIT_SECONDS: Final = "broadcastio.wait.seconds"

BROADCAST_SPAN: Final = "broadcast"
BROADCAST_ID: Final = "broadcastio.broadcast.id"
BROADCAST_RUN: Final = "broadcastio.broadcast.run"
BROADCAST_CONCURRENCY: Final = "broadcastio.broadcast.concurrency"
BROADCAST_TOTAL: Final = "broadcastio.broadcast.total"
BROADCAST_DELIVERED: Final = "broadcastio.broadcast.delivered"
BROADCAST_FAILED: Final = "broadcastio.broadcast.failed"
BROADCAST_AMBIGUOUS: Final = "broadcastio.broadcast.ambiguous"
BROADCAST_NOT_SENT: Final = "broadcastio.broadcast.not_sent"
BROADCAST_INTERRUPTED: Final = "broadcastio.broadcast.interrupted"

METRIC_WAIT_DURATION: Final = "broadcastio.client.wait.duration"
"""Histogram (s) of the waits before attempts, by provider and reason."""
METRIC_HEALTH: Final = "broadcastio.provider.health"
"""Gauge per provider: 1 ready, 0 not, as last checked."""

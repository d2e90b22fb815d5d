"""broadcastio: deliver outbound messages through an ordered chain of providers.

Everything a user needs is importable from here; submodules hold the details.
Importing broadcastio loads no plugins: discovery happens only when an
orchestrator is built with ``Orchestrator.from_plugins``.
"""

from __future__ import annotations

import logging

from broadcastio._version import __version__
from broadcastio.broadcast import (
    BroadcastOptions,
    BroadcastReport,
    BroadcastRun,
    Journal,
    RecipientOutcome,
    RecipientState,
    RecipientStatus,
)
from broadcastio.errors.codes import ErrorCode
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.records.health import ProviderHealth
from broadcastio.records.contact import Contact
from broadcastio.records.message import Attachment, Message, MessageMetadata
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.engine.relay import use_default_relay as _use_default_relay
from broadcastio.records.rate_limit import RateLimit
from broadcastio.records.result import DeliveryResult
from broadcastio.records.retry import RetryPolicy
from broadcastio.records.trace import DeliveryAttempt, DeliveryTrace
from broadcastio.errors import (
    AttachmentError,
    BroadcastioError,
    ConfigurationError,
    OrchestrationError,
    ValidationError,
)
from broadcastio.plugins.manager import PluginManager
from broadcastio.plugins.markers import hookimpl
from broadcastio.providers.base import MessageProvider

# The engine knows hooks only through the HookRelay protocol; the root, which
# may import every layer, makes the plugin manager the default relay.
_use_default_relay(PluginManager)

# A library never configures logging; it only makes sure an unconfigured
# application does not see "no handlers could be found" noise.
logging.getLogger("broadcastio").addHandler(logging.NullHandler())

__all__ = [
    "Attachment",
    "AttachmentError",
    "BroadcastOptions",
    "BroadcastReport",
    "BroadcastRun",
    "BroadcastioError",
    "ConfigurationError",
    "Contact",
    "DeliveryAttempt",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryTrace",
    "ErrorCode",
    "Journal",
    "Message",
    "MessageMetadata",
    "MessageProvider",
    "OrchestrationError",
    "Orchestrator",
    "PluginManager",
    "ProviderHealth",
    "RateLimit",
    "RecipientOutcome",
    "RecipientState",
    "RecipientStatus",
    "RetryPolicy",
    "ValidationError",
    "__version__",
    "hookimpl",
]

"""broadcastio: deliver outbound messages through an ordered chain of providers.

Everything a user needs is importable from here; submodules hold the details.
Importing broadcastio loads no plugins: discovery happens only when an
orchestrator is built with ``Orchestrator.from_plugins``.

The names below are resolved on first use (PEP 562), so ``import broadcastio``
costs only what is used: ``broadcastio --version``, ``send`` and ``health``
never import the broadcast and journal machinery, and a script that only
builds messages never imports the plugin manager. Type checkers see ordinary
imports (the ``TYPE_CHECKING`` block).
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from broadcastio._version import __version__
from broadcastio.engine.relay import HookRelay as _HookRelay
from broadcastio.engine.relay import use_default_relay as _use_default_relay

if TYPE_CHECKING:
    from broadcastio.broadcast import (
        BroadcastOptions,
        BroadcastReport,
        BroadcastRun,
        Journal,
        RecipientOutcome,
        RecipientState,
        RecipientStatus,
    )
    from broadcastio.engine.orchestrator import Orchestrator
    from broadcastio.errors import (
        AttachmentError,
        BroadcastioError,
        ConfigurationError,
        OrchestrationError,
        ValidationError,
    )
    from broadcastio.errors.codes import ErrorCode
    from broadcastio.plugins.manager import PluginManager
    from broadcastio.plugins.markers import hookimpl
    from broadcastio.providers.base import MessageProvider
    from broadcastio.records.contact import Contact
    from broadcastio.records.delivery_error import DeliveryError
    from broadcastio.records.health import ProviderHealth
    from broadcastio.records.message import Attachment, Message, MessageMetadata
    from broadcastio.records.rate_limit import RateLimit
    from broadcastio.records.receipt import Receipt, ReceiptState
    from broadcastio.records.result import DeliveryResult
    from broadcastio.records.retry import RetryPolicy
    from broadcastio.records.trace import DeliveryAttempt, DeliveryTrace

_HOMES: dict[str, str] = {
    "Attachment": "broadcastio.records.message",
    "AttachmentError": "broadcastio.errors",
    "BroadcastOptions": "broadcastio.broadcast",
    "BroadcastReport": "broadcastio.broadcast",
    "BroadcastRun": "broadcastio.broadcast",
    "BroadcastioError": "broadcastio.errors",
    "ConfigurationError": "broadcastio.errors",
    "Contact": "broadcastio.records.contact",
    "DeliveryAttempt": "broadcastio.records.trace",
    "DeliveryError": "broadcastio.records.delivery_error",
    "DeliveryResult": "broadcastio.records.result",
    "DeliveryTrace": "broadcastio.records.trace",
    "ErrorCode": "broadcastio.errors.codes",
    "Journal": "broadcastio.broadcast",
    "Message": "broadcastio.records.message",
    "MessageMetadata": "broadcastio.records.message",
    "MessageProvider": "broadcastio.providers.base",
    "OrchestrationError": "broadcastio.errors",
    "Orchestrator": "broadcastio.engine.orchestrator",
    "PluginManager": "broadcastio.plugins.manager",
    "ProviderHealth": "broadcastio.records.health",
    "RateLimit": "broadcastio.records.rate_limit",
    "Receipt": "broadcastio.records.receipt",
    "ReceiptState": "broadcastio.records.receipt",
    "RecipientOutcome": "broadcastio.broadcast",
    "RecipientState": "broadcastio.broadcast",
    "RecipientStatus": "broadcastio.broadcast",
    "RetryPolicy": "broadcastio.records.retry",
    "ValidationError": "broadcastio.errors",
    "hookimpl": "broadcastio.plugins.markers",
}
"""Where each public name lives; read by ``__getattr__`` on first use."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'broadcastio' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _plugin_manager() -> _HookRelay:
    # Imported when the first orchestrator without a relay is built, not before.
    from broadcastio.plugins.manager import PluginManager

    return PluginManager()


# The engine knows hooks only through the HookRelay protocol; the root, which
# may import every layer, makes the plugin manager the default relay.
_use_default_relay(_plugin_manager)

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
    "Receipt",
    "ReceiptState",
    "RecipientOutcome",
    "RecipientState",
    "RecipientStatus",
    "RetryPolicy",
    "ValidationError",
    "__version__",
    "hookimpl",
]

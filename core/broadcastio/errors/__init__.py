"""Error codes and the exceptions broadcastio raises: the bottom layer, importing nothing.

``broadcastio.errors`` keeps every name it had when it was one module.
"""

from broadcastio.errors.codes import ErrorCode
from broadcastio.errors.exceptions import (
    AttachmentError,
    BroadcastioError,
    ConfigurationError,
    KeyPath,
    OrchestrationError,
    ValidationError,
    format_key_path,
)

__all__ = [
    "AttachmentError",
    "BroadcastioError",
    "ConfigurationError",
    "ErrorCode",
    "KeyPath",
    "OrchestrationError",
    "ValidationError",
    "format_key_path",
]

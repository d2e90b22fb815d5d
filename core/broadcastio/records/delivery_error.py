"""The description of one failed delivery, shared by attempts and results."""

from __future__ import annotations

from typing import Any

import attrs

from broadcastio.records.checks import check_error_code
from broadcastio.errors.codes import ErrorCode

__all__ = ["DeliveryError"]


def _to_error_code(value: ErrorCode | str) -> ErrorCode:
    return check_error_code("code", value)


def _to_details(value: dict[str, Any] | None) -> dict[str, Any]:
    # ``details=None`` (0.3.0a2's spelling of "none") is no details: readers
    # call ``details.get`` and a trace's JSON round trip expects a dict.
    return {} if value is None else value


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class DeliveryError:
    """Why a delivery failed: a portable ``code``, a human ``message``, and ``details``.

    ``details`` holds what is specific to the provider (its native status code, a
    ``retry_after`` in seconds for ``RATE_LIMITED``…). Keep it JSON-safe: results
    and traces are serialized as they are.
    """

    code: ErrorCode = attrs.field(converter=_to_error_code)
    message: str
    details: dict[str, Any] = attrs.field(factory=dict, converter=_to_details)

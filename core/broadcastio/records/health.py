"""``ProviderHealth``: what a provider says about itself."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs

from broadcastio.errors import ValidationError

__all__ = ["ProviderHealth"]


def _to_details(value: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """``details`` as a dict: ``None`` is none, a string is the reason, a mapping is copied.

    The 0.3.0a2 documentation wrote ``details=None`` and its providers put a
    plain string there; code that reads health (the orchestrator's "not ready
    because ...", a trace's JSON round trip) expects a dict. Normalising once,
    here, means no reader has to guess. A blank string says nothing, so it is no
    reason. Anything else is refused now rather than failing in the middle of a
    send.
    """
    if value is None:
        return {}
    if isinstance(value, str):
        return {"reason": value} if value.strip() else {}
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise ValidationError(f"ProviderHealth details keys must be strings, got {key!r}")
        return dict(value)
    hint = ""
    if isinstance(value, _dt.datetime):
        # ProviderHealth(provider, ready, checked_at) was the 0.3.0a2 order.
        hint = " (0.3.0a2's third field checked_at was removed; pass details by keyword)"
    raise ValidationError(
        "ProviderHealth details must be a mapping, a string (the reason) or None, "
        f"got {type(value).__name__}{hint}"
    )


@attrs.frozen(unsafe_hash=False)  # holds dicts: explicitly unhashable
class ProviderHealth:
    """What a provider says about itself: can it take a message right now, and why (not).

    ``details`` is always a dict: ``None`` becomes ``{}`` and a string becomes
    ``{"reason": text}``, the key the orchestrator quotes when it passes a
    provider over.
    """

    provider: str
    ready: bool
    details: dict[str, Any] = attrs.field(factory=dict, converter=_to_details)

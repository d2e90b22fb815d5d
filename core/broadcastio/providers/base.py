"""``MessageProvider``: the one interface a delivery channel implements."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from broadcastio.core.health import ProviderHealth
    from broadcastio.core.message import Message
    from broadcastio.core.result import DeliveryResult
    from broadcastio.core.retry import RetryPolicy

__all__ = ["MessageProvider"]


class MessageProvider(abc.ABC):
    """A delivery channel, kept deliberately thin.

    A provider attempts delivery exactly once per ``send()`` and reports what
    happened as a ``DeliveryResult``; it never retries, never falls back and never
    raises for a delivery failure. Retrying, routing and tracing all live in the
    orchestrator, so every channel gets them the same way and a provider stays
    small enough to review in one sitting.

    Class attributes a provider may set:

    * ``name`` (required): how users refer to it in ``order=`` and settings.
    * ``retry_policy``: overrides the orchestrator's default policy for this
      provider (a class attribute, or an instance attribute set from settings).
    * ``settings_type``: an attrs class or dataclass describing the provider's
      settings. ``Orchestrator.from_plugins`` structures the user's settings dict
      into it (rejecting unknown, missing or mistyped fields) and calls
      ``ProviderClass(settings)``; without it the class is called with no argument.
    """

    name: ClassVar[str]
    retry_policy: RetryPolicy | None = None
    settings_type: ClassVar[type[Any] | None] = None

    @abc.abstractmethod
    def send(self, message: Message) -> DeliveryResult:
        """Attempt delivery once; return the outcome, success or failure."""

    @abc.abstractmethod
    def health(self) -> ProviderHealth:
        """Say whether this provider can take a message now, with details for a person."""

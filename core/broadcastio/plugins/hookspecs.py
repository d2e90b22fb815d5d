"""The hooks a broadcastio plugin can implement.

An implementation takes only the arguments it names, in any order, so arguments
added here later never break existing plugins. These signatures are the only
list of what each hook passes: broadcastio reads them back through pluggy
(``HookSpec.argnames``) when it binds implementations and constructor callbacks.
Every hook is called one implementation at a time: an observation hook
(``OBSERVATION_HOOKS``) that raises is logged and ignored, the others still run
and the delivery result is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from broadcastio.engine.observers import OBSERVATION_HOOKS
from broadcastio.plugins.markers import hookspec

__all__ = [
    "OBSERVATION_HOOKS",
    "ProviderRegistrar",
    "after_send",
    "before_send",
    "on_attempt",
    "on_health",
    "register_providers",
]

if TYPE_CHECKING:
    from broadcastio.records.health import ProviderHealth
    from broadcastio.records.message import Message
    from broadcastio.records.result import DeliveryResult
    from broadcastio.records.trace import DeliveryAttempt
    from broadcastio.providers.base import MessageProvider


class ProviderRegistrar(Protocol):
    """The ``register`` callable handed to ``register_providers``."""

    def __call__(self, provider_class: type[MessageProvider], *, priority: int = 0) -> None: ...


@hookspec
def register_providers(register: ProviderRegistrar) -> None:
    """Offer provider classes to the core.

    Fires when an orchestrator is built from plugins (``Orchestrator.from_plugins``).
    Call ``register(ProviderClass)`` once per provider class, optionally with
    ``priority=`` (an int, default 0): without an explicit ``order``, providers are
    tried from the highest priority down, ties broken by name. A plugin whose
    implementation raises is recorded as broken and its providers are left out.
    """


@hookspec
def before_send(message: Message) -> None:
    """Fires once per ``Orchestrator.send``, after the message is validated, before any health
    check or attempt. ``message`` is the ``Message`` being sent."""


@hookspec
def on_attempt(attempt: DeliveryAttempt, message: Message) -> None:
    """Fires after every attempt (retries included) finishes, successful or not.

    ``attempt`` is the ``DeliveryAttempt`` (provider, 1-based attempt number per
    provider, timestamps, duration, success, error); ``message`` is the message.
    """


@hookspec
def on_health(health: ProviderHealth) -> None:
    """Fires whenever a provider's health is actually checked (not when served from the
    orchestrator's cache). ``health`` is the ``ProviderHealth`` just obtained, including the
    not-ready report made when ``health()`` raised."""


@hookspec
def after_send(result: DeliveryResult, message: Message) -> None:
    """Fires once per ``Orchestrator.send`` that returns, with the final ``DeliveryResult``
    (success or failure, with its trace when tracing was on) and the ``message``. It does not
    fire when ``send`` raises (misuse or misconfiguration)."""


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

from typing import TYPE_CHECKING, Any, Protocol

from broadcastio.engine.observers import OBSERVATION_HOOKS
from broadcastio.plugins.markers import hookspec

__all__ = [
    "OBSERVATION_HOOKS",
    "ProviderRegistrar",
    "after_broadcast",
    "after_send",
    "before_broadcast",
    "before_send",
    "broadcastio_listening",
    "on_attempt",
    "on_health",
    "on_receipt",
    "on_send_error",
    "on_skip",
    "on_wait",
    "register_providers",
]

if TYPE_CHECKING:
    from broadcastio.records.health import ProviderHealth
    from broadcastio.records.message import Message
    from broadcastio.records.receipt import Receipt, ReceiptState
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
def broadcastio_listening() -> bool:
    """Whether this plugin wants the send hooks now; ``False`` leaves them out of the send path.

    Not fired like the others: the orchestrator asks each plugin's implementation on its
    own when it binds the send hooks (``before_send``, ``on_attempt``, ``on_skip``,
    ``on_wait``, ``on_health``, ``after_send``, ``on_send_error``), because the answer is
    about that plugin alone. While a plugin answers ``False`` (the value itself; anything
    else, or raising, counts as listening) its implementations of those hooks are not
    called at all, so an idle observer costs a send nothing. The orchestrator asks again
    whenever a plugin is registered or unregistered, and at most a second after a binding
    left a plugin out. The broadcast hooks, ``on_receipt`` and ``register_providers`` are
    always called. A plugin without this hook always listens.
    """
    return True


@hookspec
def before_send(message: Message, providers: tuple[MessageProvider, ...]) -> None:
    """Fires once per ``Orchestrator.send``, after the message is validated, before any health
    check or attempt. ``message`` is the ``Message`` being sent; ``providers`` is the
    orchestrator's chain, in order (``provider.name`` is the instance name that attempts and
    health reports carry, ``type(provider).name`` the provider type). Exactly one of
    ``after_send`` and ``on_send_error`` follows, on the same thread."""


@hookspec
def on_attempt(attempt: DeliveryAttempt, message: Message) -> None:
    """Fires after every attempt (retries included) finishes, successful or not.

    ``attempt`` is the ``DeliveryAttempt`` (provider, 1-based attempt number per
    provider, timestamps, duration, success, error); ``message`` is the message.
    """


@hookspec
def on_skip(health: ProviderHealth, message: Message) -> None:
    """Fires when a send passes a provider over without attempting it: its health said not
    ready, or the recipient (a contact) has no address of the kind it needs.

    ``health`` is the not-ready ``ProviderHealth`` (``details["reason"]`` says why when
    known, e.g. ``"no email address"``); ``message`` is the message. When no provider was
    healthy and the orchestrator then tries them all anyway, the skips were already heard:
    the attempts that follow say what happened next.
    """


@hookspec
def on_wait(provider: str, seconds: float, reason: str, message: Message) -> None:
    """Fires before a send sleeps (never for a wait of zero).

    ``reason`` is ``"rate_limit"`` (waiting for a slot of a paced or paused provider) or
    ``"retry"`` (the back-off before the next attempt, at least the ``retry_after`` the
    provider asked for). ``provider`` is the instance name, ``seconds`` the planned wait,
    ``message`` the message.
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
    fire when ``send`` raises (misuse or misconfiguration): ``on_send_error`` does."""


@hookspec
def on_send_error(error: BaseException, message: Message) -> None:
    """Fires once per ``Orchestrator.send`` that raises after ``before_send`` fired (no
    healthy provider with ``require_healthy=True``, a provider raising a
    ``BroadcastioError``, Ctrl-C), with the exception about to propagate and the
    ``message``. The exception propagates whatever the implementations do."""


@hookspec
def before_broadcast(broadcast_id: str, run: int, concurrency: int) -> None:
    """Fires once per broadcast run, when it starts (after the journal counted the run,
    before the first row is read), on the thread that iterates the run.

    ``broadcast_id`` and ``run`` (1 for a first run, 2 for the first resume...) identify it;
    ``concurrency`` is the number of sending threads. Those threads run in a copy of the
    context this hook ran in, so a ``contextvars`` value set here (an OpenTelemetry span
    made current) is what every send of the run sees. ``after_broadcast`` follows once.
    """


@hookspec
def after_broadcast(report: Any) -> None:
    """Fires once per broadcast run that fired ``before_broadcast``, when it ends (finished,
    interrupted, or ending in an exception), in the same context, with its
    ``broadcastio.BroadcastReport`` (id, run, totals, timing, ``interrupted``).

    Typed ``Any`` here only because the report belongs to the broadcast layer, above
    this one."""


@hookspec
def on_receipt(
    broadcast_id: str,
    recipient: str,
    provider: str,
    receipt: Receipt,
    previous: ReceiptState | None,
) -> None:
    """Fires once for each receipt change a journal records (``broadcastio journal sync``,
    ``broadcast --wait-receipts``, ``broadcastio.broadcast.receipts.sync_receipts``), after
    it is committed, on the syncing thread.

    ``receipt`` is the ``Receipt`` as now journaled (``state``, ``updated_at``,
    ``delivered_at``, ``read_at``); ``previous`` the ``ReceiptState`` the journal had
    (``None``: unknown until now). ``recipient`` is the journal row's key (a plain
    recipient, or a contact's key), ``provider`` the instance that delivered the message.
    A receipt that tells nothing new (asked again, unchanged) does not fire it.
    """

"""``MessageProvider``: the one interface a delivery channel implements."""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from broadcastio.errors import BroadcastioError, ConfigurationError, ValidationError

if TYPE_CHECKING:
    from broadcastio.records.health import ProviderHealth
    from broadcastio.records.message import Message
    from broadcastio.records.receipt import Receipt
    from broadcastio.records.result import DeliveryResult
    from broadcastio.records.retry import RetryPolicy

__all__ = ["MessageProvider", "close_providers", "settings_from_arguments"]

S = TypeVar("S")

logger = logging.getLogger("broadcastio")
P = TypeVar("P", bound="MessageProvider")


class MessageProvider(abc.ABC):
    """A delivery channel, kept deliberately thin.

    A provider attempts delivery exactly once per ``send()`` and reports what
    happened as a ``DeliveryResult``; it never retries, never falls back and never
    raises for a delivery failure. Retrying, routing and tracing all live in the
    orchestrator, so every channel gets them the same way and a provider stays
    small enough to review in one sitting.

    Class attributes a provider may set:

    * ``name`` (required): the provider *type*, how users refer to it in
      ``order=`` and settings. An instance configured under another name
      (``[providers.alerts-mail]`` with ``type = "email"``) is built as
      ``ProviderClass(settings)`` and then given that name as an instance
      attribute, ``provider.name = "alerts-mail"``; so report (results, health,
      logs) through ``self.name`` read at that moment, never a module constant
      or a copy taken in ``__init__``.
    * ``retry_policy``: overrides the orchestrator's default policy for this
      provider (a class attribute, or an instance attribute set from settings).
    * ``settings_type``: an attrs class or dataclass describing the provider's
      settings. ``Orchestrator.from_plugins`` structures the user's settings dict
      into it (rejecting unknown, missing or mistyped fields) and calls
      ``ProviderClass(settings)``; without it the class is called with no argument.
    * ``address_kind``: the kind of address the provider needs (``"phone"``,
      ``"email"``; a ``Contact``'s key). The orchestrator hands it a message
      whose ``recipient`` is the contact's address of that kind, and passes over
      the provider (never attempting it) for a contact without one. ``None``
      (the default) takes a plain recipient string as it is, and a contact's
      ``key`` (its id, or its addresses as JSON). A plain string recipient
      reaches every provider unchanged, whatever its ``address_kind``.
    * ``test_double``: ``True`` for a provider that delivers nothing (the dummy).
      A test double joins a chain only when it is named (``order``,
      ``--provider``): a message must never count as delivered by accident.

    A provider class may also override ``configured_by_environment`` to say that
    environment variables alone configure it, so that it joins a chain built
    without an explicit order even when the configuration has no table for it.

    A channel that reports what happened after it accepted a message (WhatsApp's
    ticks) sets ``supports_receipts = True`` and overrides ``fetch_receipts``;
    ``broadcastio journal sync`` asks only such providers, and the journal says
    "unknown" for the messages of the others.

    ``message_ids_contain_address`` is ``True`` for a channel whose message ids
    (``DeliveryResult.message_id``) carry the recipient's address, or are
    derived from it without a secret: WhatsApp's ``true_<number>@c.us_3EB0...``.
    Anything that exports ids to a place built for operations rather than
    personal data (the OpenTelemetry plugin's spans) must then not export them
    as they are; the journal, which already holds the addresses, keeps them.
    The default, ``False``, says an id tells nothing about who received it.

    ``returns_promptly`` is ``True`` for a provider whose ``send()`` cannot take
    long whatever happens: it waits for nothing (no network, no disk, no lock
    held by another process, no sleep), as the dummy without ``latency``.
    Python cannot interrupt a call, so a send with a deadline (the command
    line always gives one) runs each attempt on another thread and stops
    waiting when the deadline passes; a provider that returns promptly is
    called directly, since it cannot outlast the deadline by more than the
    microseconds a hand-off to that thread costs. The deadline still bounds
    its retries and the chain. The default, ``False``, is right for every
    provider that does I/O: say ``True`` only of code that cannot block.

    A provider that holds something (an HTTP session, a connection, a file)
    overrides ``close()`` to release it. Every provider works as a context
    manager (``with WhatsAppProvider(...) as provider:``) that closes it on exit,
    and ``Orchestrator.close()`` closes the providers of its chain.
    """

    name: ClassVar[str]
    retry_policy: RetryPolicy | None = None
    settings_type: ClassVar[type[Any] | None] = None
    test_double: ClassVar[bool] = False
    address_kind: ClassVar[str | None] = None
    supports_receipts: ClassVar[bool] = False
    message_ids_contain_address: ClassVar[bool] = False
    returns_promptly: bool = False

    @classmethod
    def configured_by_environment(cls, environ: Mapping[str, str]) -> bool:
        """Whether ``environ`` alone configures this provider (its own variables are set).

        Used only when no order is given: the chain is then every installed real
        provider that is configured, by a settings table or by the environment.
        The default is ``False``: a provider nobody configured is not guessed at.
        """
        return False

    @abc.abstractmethod
    def send(self, message: Message) -> DeliveryResult:
        """Attempt delivery once; return the outcome, success or failure."""

    @abc.abstractmethod
    def health(self) -> ProviderHealth:
        """Say whether this provider can take a message now, with details for a person."""

    def address_of(self, message: Message) -> str:
        """The address this provider sends ``message`` to, always a string.

        Through an orchestrator ``message.recipient`` already is that string
        (the engine resolves a contact per provider). A provider called
        directly with a contact gets the same resolution here, so it never
        has to handle a ``Contact`` itself; a contact without an address of
        this provider's kind is a ``ValidationError``.
        """
        recipient = message.recipient
        if isinstance(recipient, str):
            return recipient
        kind = self.address_kind
        if kind is None:
            return recipient.key
        address = recipient.address(kind)
        if address is None:
            raise ValidationError(
                f"provider {self.name!r} needs a {kind} address, and recipient {recipient} "
                "has none",
                details={"address_kind": kind},
            )
        return address

    def fetch_receipts(self, message_ids: Sequence[str]) -> Mapping[str, Receipt]:
        """The latest receipt of each of ``message_ids`` the channel knows; here none.

        ``message_ids`` are ids this provider returned (``DeliveryResult.message_id``),
        possibly many: an implementation batches its requests itself. An id the
        channel does not know (never sent, forgotten) is left out of the answer,
        not an error. A channel that cannot be reached (or refuses the
        question) raises a ``BroadcastioError`` with ``ErrorCode.PROVIDER_UNAVAILABLE``
        (or ``AUTHENTICATION_FAILED``) naming the provider: it never answers a
        guess. The default, for channels without receipts, is an empty mapping,
        which the journal records as "unknown", never as "delivered to the device".
        """
        return {}

    def close(self) -> None:  # noqa: B027 - optional on purpose: most providers hold nothing
        """Release what this provider holds; here a no-op, as there is nothing to release.

        Called when nobody will send through the provider again: by
        ``Orchestrator.close()`` for the providers of its chain, and on leaving
        a ``with`` block. A provider holding a session, connection or file
        overrides it so that a long-lived program (or a test suite building a
        chain per case) does not leak sockets. It must be safe to call more
        than once, since both the provider's owner and an orchestrator may
        close it, and should not raise for a resource that is already gone.
        What ``send()`` and ``health()`` do afterwards is the provider's
        choice; reporting a failure that says the provider was closed is
        friendlier than quietly opening new connections.
        """

    def __enter__(self: P) -> P:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def settings_from_arguments(
    settings_type: type[S],
    settings: S | None,
    overrides: Mapping[str, Any],
    *,
    owner: str,
    error: type[BroadcastioError] = ConfigurationError,
) -> S:
    """The settings a provider constructor was given, as one ``settings_type`` instance.

    Lets ``Provider(settings)``, ``Provider(field=value)`` and
    ``Provider(settings, field=value)`` (keywords win) all work, for any attrs
    settings class, with one wording for the two mistakes: a settings argument of
    the wrong type, and an unknown keyword (the known ones are listed).
    """
    if settings is not None and not isinstance(settings, settings_type):
        raise error(
            f"{owner} settings must be a {settings_type.__name__}, got "
            f"{type(settings).__name__}; or pass them as keywords, e.g. {owner}(name=...)"
        )
    known = attrs.fields_dict(settings_type)  # type: ignore[arg-type]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise error(f"unknown {owner} setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if settings is None:
        return settings_type(**overrides)
    return attrs.evolve(settings, **overrides) if overrides else settings  # type: ignore[misc]


def close_providers(providers: Iterable[Any]) -> None:
    """Close each provider that can be closed; one that raises does not keep the others open.

    Used wherever providers are released together (an orchestrator closing its
    chain, a chain whose building failed half-way). A failure is one warning
    line, its traceback at debug level: a program letting go of its providers
    has no better use for the error. Duck-typed providers without ``close()``
    are skipped.
    """
    for provider in providers:
        close = getattr(provider, "close", None)
        if not callable(close):
            continue
        name = getattr(provider, "name", type(provider).__name__)
        try:
            close()
        except Exception as exc:  # noqa: BLE001 - one provider must not keep the others open
            logger.warning("provider %r raised %s while closing: %s", name, type(exc).__name__, exc)
            logger.debug("traceback of provider %r's close", name, exc_info=True)

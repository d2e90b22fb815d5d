"""The orchestrator: walks the provider chain with retries, health checks and tracing."""

from __future__ import annotations

import datetime as _dt
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import attrs

from broadcastio.engine.chain import check_chain, check_orchestrator_arguments, check_per_provider
from broadcastio.engine.clock import Clock, SystemClock
from broadcastio.errors.codes import ErrorCode
from broadcastio.engine.deadline import BoundedCaller, CallTimedOut, check_timeout
from broadcastio.engine.relay import HookRelay, default_relay
from broadcastio.records.delivery_error import DeliveryError
from broadcastio.engine.health_cache import HealthCache
from broadcastio.records.health import ProviderHealth
from broadcastio.records.ids import new_trace_id
from broadcastio.records.contact import Contact
from broadcastio.records.message import Message
from broadcastio.engine.observers import ObserverSnapshot, Observers
from broadcastio.records.rate_limit import ProviderGate, RateLimit
from broadcastio.records.result import (
    EARLIER_TIMEOUT,
    DeliveryResult,
    trusted_error,
    trusted_result,
)
from broadcastio.records.retry import RetryPolicy
from broadcastio.records.trace import DeliveryAttempt, trusted_attempt, trusted_trace
from broadcastio.errors import (
    BroadcastioError,
    ConfigurationError,
    OrchestrationError,
    ValidationError,
)
from broadcastio.providers.base import MessageProvider, close_providers

__all__ = ["Orchestrator"]

logger = logging.getLogger("broadcastio")

_DEFAULT_POLICY = RetryPolicy()
# A wait longer than a day is a misconfiguration (an uncapped exponential back-off,
# an absurd Retry-After), not a plan; such a provider is given up on instead.
_LONGEST_SLEEP = 86_400.0
# Seconds under which a traced send reuses its last wall-clock stamp instead of
# reading the clock again (issue 15: a read is a tenth of a traced send).
# Datetimes have microsecond resolution: less than one apart, a second read
# would say the same as the first, or one tick more.
_SAME_STAMP = 1e-6


class _Run:
    """The bookkeeping of one ``send``: what was tried, the trace, and the deadline."""

    __slots__ = (
        "attempts",
        "deadline",
        "deadline_passed",
        "margin",
        "last_error",
        "record",
        "skipped",
        "timed_out",
        "timeout",
        "tried",
    )

    def __init__(self, record: bool, timeout: float | None, now: float) -> None:
        self.record = record
        self.tried: list[str] = []
        self.attempts: list[DeliveryAttempt] | None = [] if record else None
        self.skipped: list[ProviderHealth] = []
        self.last_error: DeliveryError | None = None
        # The last provider whose attempt ended in TIMEOUT (it may have delivered).
        self.timed_out: str | None = None
        self.timeout = timeout
        # Monotonic time by which the send must end; None: no deadline.
        self.deadline = None if timeout is None else now + timeout
        # Where the deadline ran out, for the result's message; None while it has not.
        self.deadline_passed: str | None = None
        # The least time worth starting an attempt with: a tenth of the deadline,
        # at most 50 ms. Less, and the attempt would be cut off as soon as begun.
        self.margin = 0.0 if timeout is None else min(0.05, timeout / 10)


class Orchestrator:
    """Delivers a message through an ordered chain of providers.

    For each provider in order: skip it if its (cached) health says not ready;
    otherwise attempt, retrying per its ``RetryPolicy`` while the error is
    retryable; on success stop, else go on to the next provider. If no provider is
    healthy, ``require_healthy=True`` raises ``OrchestrationError`` before any
    attempt, and the default tries every provider anyway (a health probe can be
    wrong; an attempt is the real test).

    Delivery failures are returned as ``DeliveryResult(success=False)``; exceptions
    mean misuse: an invalid message (``ValidationError``), a missing attachment file
    (``AttachmentError``), or a provider raising a ``BroadcastioError``.

    ``retry_policies`` maps a provider name to the ``RetryPolicy`` it uses,
    overriding the provider's own and the default. ``rate_limits`` maps a provider
    name to a ``RateLimit`` (or its text, ``"20/minute"``): every send through that
    provider, from any thread, waits for its slot. A ``RATE_LIMITED`` failure with
    a ``retry_after`` pauses that provider for every thread; a send that finds it
    paused for longer than its policy's ``max_delay`` falls back without calling it.

    ``timeout`` is the default whole-send deadline in seconds (``send`` can set
    its own): it bounds the chain including health checks, retries, back-off and
    rate-limit waits. An attempt still running when it passes ends as
    ``TIMEOUT`` (it may yet deliver), and the result says the deadline was
    reached; a health check is waited for at most half of the time left, so a
    hung probe leaves time for the next provider. Without a deadline only the
    providers' own timeouts bound a send.

    ``on_attempt``, ``on_success`` and ``on_failure`` are observers, as are the
    plugin hooks: what they raise is logged and ignored. They are offered
    ``(attempt, message)`` or ``(result, message)`` and receive what their
    signature accepts (``def log(attempt)`` gets the attempt alone; the rule is in
    docs/hooks.md); one that cannot accept them is a ``ConfigurationError`` here.
    ``clock`` and ``rng`` exist so tests can run retries without sleeping and
    jitter deterministically.

    An orchestrator is safe to share between threads.

    The providers handed to it become its own: ``close()`` (or leaving a
    ``with Orchestrator(...) as orchestrator:`` block) closes every provider
    of the chain, after which ``send`` and ``health`` raise
    ``OrchestrationError``. A provider shared with another orchestrator is
    closed for that one too, so share providers only between orchestrators
    that are never closed, or close the providers yourself instead.
    """

    def __init__(
        self,
        providers: Iterable[MessageProvider],
        *,
        retry_policy: RetryPolicy | None = None,
        health_ttl: float | None = 30,
        require_healthy: bool = False,
        retry_policies: Mapping[str, RetryPolicy] | None = None,
        rate_limits: Mapping[str, RateLimit | str] | None = None,
        timeout: float | None = None,
        on_attempt: Callable[..., Any] | None = None,
        on_success: Callable[..., Any] | None = None,
        on_failure: Callable[..., Any] | None = None,
        plugin_manager: HookRelay | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        chain, policies = check_chain(providers)
        check_orchestrator_arguments(
            retry_policy=retry_policy,
            health_ttl=health_ttl,
            require_healthy=require_healthy,
            callbacks={
                "on_attempt": on_attempt,
                "on_success": on_success,
                "on_failure": on_failure,
            },
            plugin_manager=plugin_manager,
            clock=clock,
            rng=rng,
        )
        policy_overrides, limits = check_per_provider(chain, retry_policies, rate_limits)
        try:
            self.timeout = check_timeout("timeout", timeout)
        except ValidationError as exc:
            # The same error, as the constructor's kind: its fields travel along.
            raise ConfigurationError(
                problem=exc.problem, field=exc.field, details=exc.details
            ) from None

        self.providers: tuple[MessageProvider, ...] = chain
        self.retry_policy = retry_policy if retry_policy is not None else _DEFAULT_POLICY
        # Each provider's effective policy, fixed when the chain is built: an
        # explicit retry_policies entry, else the provider's own retry_policy
        # (read once), else the default.
        self._policies = {
            provider.name: policy_overrides.get(
                provider.name, own if own is not None else self.retry_policy
            )
            for provider, own in zip(chain, policies, strict=True)
        }
        self.rate_limits: dict[str, RateLimit] = limits
        # Gates of paced providers; a provider that asks to slow down gets one too.
        self._gates: dict[str, ProviderGate] = {
            name: ProviderGate(limit) for name, limit in limits.items()
        }
        self.require_healthy = require_healthy
        # A PluginManager unless the caller gave another relay. Typed loosely so
        # that ``orchestrator.plugin_manager.register(...)`` type-checks in user
        # code without this layer importing the plugins layer.
        self.plugin_manager: Any = plugin_manager if plugin_manager is not None else default_relay()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._rng = rng
        self._observers = Observers(
            self.plugin_manager,
            on_attempt=on_attempt,
            on_success=on_success,
            on_failure=on_failure,
        )
        self.health_cache = HealthCache(
            None if health_ttl is None else float(health_ttl), self._clock, self._health_checked
        )
        # Attempts under a deadline run here, so a hung provider cannot hold the caller.
        self._bounded = BoundedCaller(name="broadcastio-send")
        self._closed = False
        self._close_lock = threading.Lock()

    @classmethod
    def from_plugins(
        cls,
        order: Sequence[str] | None = None,
        *,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
        environ: Mapping[str, str] | None = None,
        **orchestrator_kwargs: Any,
    ) -> Orchestrator:
        """Alias of ``broadcastio.plugins.assembly.orchestrator_from_plugins`` (same arguments).

        The plugins layer sits above the engine, so the function lives there and
        this method only imports it when called.
        """
        from broadcastio.plugins.assembly import orchestrator_from_plugins

        return orchestrator_from_plugins(
            order, settings=settings, environ=environ, orchestrator_class=cls, **orchestrator_kwargs
        )

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **orchestrator_kwargs: Any,
    ) -> Orchestrator:
        """Alias of ``broadcastio.config.orchestrator_from_config`` (same arguments)."""
        from broadcastio.config.build import orchestrator_from_config

        return orchestrator_from_config(path, environ=environ, **orchestrator_kwargs)

    # -- sending -------------------------------------------------------------------------

    def send(
        self, message: Message, *, trace: bool = False, timeout: float | None = None
    ) -> DeliveryResult:
        """Deliver ``message`` through the chain and say what happened.

        With ``trace=True`` the result carries a ``DeliveryTrace`` of every attempt.
        ``timeout`` (seconds) is this send's deadline, replacing the
        orchestrator's ``timeout``; see the class docstring for what it bounds.
        """
        if self._closed:
            raise _closed_error()
        if not isinstance(message, Message):
            raise ValidationError(f"send() expects a Message, got {type(message).__name__}")
        limit = self.timeout if timeout is None else check_timeout("timeout", timeout)
        # A plain string recipient goes to every provider as it is; only a contact
        # needs a message per provider, so only a contact pays for building them.
        recipient = message.recipient
        addressed = None if isinstance(recipient, str) else self._addressed(message, recipient)
        if message.attachment is not None:
            message.attachment.ensure_readable()
        observers = self._observers.current()
        if observers.before_send:
            observers.before_send.call({"message": message, "providers": self.providers})
        # No cost when nothing went wrong (a try block is free until it raises).
        try:
            clock = self._clock
            # Bound once: a clock's methods are attributes of a slot, which Python
            # looks up the slow way at each ``monotonic()``.
            monotonic = clock.monotonic
            if trace:
                started_at = clock.now()
            now = monotonic()
            first = self.providers[0]
            name = first.name
            # The common case, flattened (issue 15): no deadline, a plain
            # recipient, no rate limit, and the first provider fresh and ready
            # in the health cache. Its first attempt runs here, doing what the
            # general path (_walk, _deliver_with_retries, _attempt) would do;
            # what follows a failed attempt goes on there.
            if limit is None and addressed is None and name not in self._gates:
                entry = self.health_cache.entries.get(name)
                if entry is not None and entry[0].ready and entry[1] > now:
                    on_attempt = observers.on_attempt
                    if trace or on_attempt:
                        started = monotonic()
                        # A stamp within a microsecond of the last one read is
                        # that one (see _SAME_STAMP); ``read`` is when it was read.
                        if trace and started - now < _SAME_STAMP:
                            attempt_started_at, read = started_at, now
                        else:
                            attempt_started_at, read = clock.now(), started
                    try:
                        result = first.send(message)
                    except BroadcastioError:
                        raise  # misuse, as in _attempt
                    except Exception as exc:  # noqa: BLE001 - see _attempt
                        result = _raised(name, exc)
                    # What _checked would hand back as it is needs no call to it.
                    if not (
                        type(result) is DeliveryResult
                        and result.success
                        and result.provider == name
                        and (
                            (message_id := result.message_id) is None
                            or (type(message_id) is str and message_id.isascii())
                        )
                    ):
                        result = _checked(result, name)
                        message_id = result.message_id
                    attempt = None
                    if trace or on_attempt:
                        finished = monotonic()
                        if finished - read < _SAME_STAMP:
                            finished_at = attempt_started_at
                        else:
                            finished_at, read = clock.now(), finished
                        attempt = trusted_attempt(
                            name,
                            1,
                            attempt_started_at,
                            finished_at,
                            (finished - started) * 1000.0,
                            result.success,
                            result.error,
                            message_id,
                        )
                        if on_attempt:
                            on_attempt.call({"attempt": attempt, "message": message})
                    if result.success:
                        trace_record = None
                        if trace and attempt is not None:
                            if monotonic() - read >= _SAME_STAMP:
                                finished_at = clock.now()
                            trace_record = trusted_trace(
                                new_trace_id(), started_at, finished_at, True, (attempt,), ()
                            )
                        final = trusted_result(
                            True, name, message_id, None, (name,), trace_record, result.details
                        )
                        if observers.after_send:
                            observers.after_send.call({"result": final, "message": message})
                        return final
                    run = _Run(bool(trace), None, 0.0)
                    if run.attempts is not None and attempt is not None:
                        run.attempts.append(attempt)
                    found = self._deliver_with_retries(
                        first, message, run, observers, message, first_result=result
                    )
                    if found is None and run.deadline_passed is None:
                        found = self._walk(
                            message, self.providers[1:], run, observers, None, skip_unhealthy=True
                        )
                    return self._finish(
                        message, found, run, observers, started_at if trace else None
                    )
            run = _Run(bool(trace), limit, now)
            found = self._walk(
                message, self.providers, run, observers, addressed, skip_unhealthy=True
            )
            if found is None and not run.tried and run.deadline_passed is None:
                # Nobody was healthy, so nothing has been attempted yet.
                if self.require_healthy:
                    raise OrchestrationError(
                        "no healthy provider: "
                        + "; ".join(f"{h.provider}: {_health_reason(h)}" for h in run.skipped),
                        code=ErrorCode.NO_HEALTHY_PROVIDERS,
                        details={"health": {h.provider: h.details for h in run.skipped}},
                    )
                logger.warning(
                    "no healthy provider (%s); trying every provider anyway",
                    "; ".join(f"{h.provider}: {_health_reason(h)}" for h in run.skipped),
                )
                run.skipped.clear()
                found = self._walk(
                    message, self.providers, run, observers, addressed, skip_unhealthy=False
                )
            return self._finish(message, found, run, observers, started_at if trace else None)
        except BaseException as raised:
            if observers.on_send_error:
                observers.on_send_error.call({"error": raised, "message": message})
            raise

    def _finish(
        self,
        message: Message,
        result: DeliveryResult | None,
        run: _Run,
        observers: ObserverSnapshot,
        started_at: _dt.datetime | None,
    ) -> DeliveryResult:
        """The send's result from what the run did (``result``: the delivering attempt's)."""
        trace_record = None
        if started_at is not None:
            assert run.attempts is not None
            trace_record = trusted_trace(
                new_trace_id(),
                started_at,
                self._clock.now(),  # finished_at
                result is not None,  # success
                tuple(run.attempts),
                tuple(run.skipped),
            )
        if result is not None:
            final = trusted_result(
                True,
                result.provider,
                result.message_id,
                None,
                tuple(run.tried),
                trace_record,
                result.details,
            )
        else:
            error = run.last_error
            if run.deadline_passed is not None:
                error = _past_deadline(error, run)
            timed_out = run.timed_out
            if timed_out is not None and error is not None and error.code is not ErrorCode.TIMEOUT:
                # The final error alone would say the message was not sent; an
                # attempt that timed out may have sent it, and a resume must know.
                error = trusted_error(
                    error.code, error.message, {**error.details, EARLIER_TIMEOUT: timed_out}
                )
            final = trusted_result(False, None, None, error, tuple(run.tried), trace_record, {})
        if observers.after_send:
            # The on_success / on_failure callbacks are after_send implementations.
            observers.after_send.call({"result": final, "message": message})
        return final

    def _walk(
        self,
        message: Message,
        providers: tuple[MessageProvider, ...],
        run: _Run,
        observers: ObserverSnapshot,
        addressed: dict[str, Message | ProviderHealth] | None,
        *,
        skip_unhealthy: bool,
    ) -> DeliveryResult | None:
        """Try providers in order; the first successful result, or ``None`` if all failed.

        ``addressed`` (for a contact) maps each provider's name to the message
        it gets, or to the health record of passing it over for want of an
        address; ``None`` sends ``message`` itself to every provider.
        """
        health_cache = self.health_cache
        deadline = run.deadline
        for provider in providers:
            provider_message = message
            if addressed is not None:
                routed = addressed[provider.name]
                if isinstance(routed, ProviderHealth):
                    run.skipped.append(routed)
                    if observers.on_skip:
                        observers.on_skip.call({"health": routed, "message": message})
                    continue
                provider_message = routed
            if deadline is not None:
                remaining = deadline - self._clock.monotonic()
                if remaining <= run.margin:
                    run.deadline_passed = f"before {provider.name!r} could be tried"
                    return None
            if skip_unhealthy:
                if deadline is None:
                    health = health_cache.get(provider)
                else:
                    # Half of what is left at most: a hung probe must leave time
                    # for the providers after it.
                    health = health_cache.get(provider, wait=remaining / 2)
                if not health.ready:
                    run.skipped.append(health)
                    if observers.on_skip:
                        observers.on_skip.call({"health": health, "message": message})
                    continue
            result = self._deliver_with_retries(
                provider, provider_message, run, observers, message
            )
            if result is not None:
                return result
            if run.deadline_passed is not None:
                return None
        return None

    def _addressed(
        self, message: Message, contact: Contact
    ) -> dict[str, Message | ProviderHealth]:
        """Each provider's own copy of ``message``, addressed for it, or why it is passed over.

        A provider with an ``address_kind`` gets the contact's address of that
        kind; one without gets the contact's ``key``. A provider the contact
        has no address for is recorded as not ready ("no email address"), as an
        unhealthy one is, and never attempted. When that leaves no provider at
        all, the message cannot go anywhere: a ``ValidationError`` before any
        attempt, naming the kinds the chain needs.
        """
        routes: dict[str, Message | ProviderHealth] = {}
        copies: dict[str, Message] = {}
        for provider in self.providers:
            kind = getattr(provider, "address_kind", None)
            address = contact.key if kind is None else contact.address(kind)
            if address is None:
                routes[provider.name] = ProviderHealth(
                    provider=provider.name,
                    ready=False,
                    details={"reason": f"no {kind} address", "address_kind": kind},
                )
                continue
            copy = copies.get(address)
            if copy is None:
                copy = copies[address] = attrs.evolve(message, recipient=address)
            routes[provider.name] = copy
        if not copies:
            needed = sorted({str(getattr(p, "address_kind", None)) for p in self.providers})
            raise ValidationError(
                f"recipient {contact} has no address any provider of the chain can use: "
                f"the chain ({', '.join(p.name for p in self.providers)}) needs "
                f"{' or '.join(needed)}, the contact has {', '.join(contact.addresses)}",
                details={
                    "needed": needed,
                    "addresses": sorted(contact.addresses),
                },
            )
        return routes

    def _deliver_with_retries(
        self,
        provider: MessageProvider,
        message: Message,
        run: _Run,
        observers: ObserverSnapshot,
        sent: Message,
        *,
        first_result: DeliveryResult | None = None,
    ) -> DeliveryResult | None:
        """Attempt ``message`` through ``provider`` with its retries; ``None`` if it failed.

        ``message`` is the provider's own copy (addressed for it); ``sent`` is
        the message the caller sent, which is what observers are shown.
        ``first_result`` is the outcome of a first attempt ``send`` already
        made, recorded and announced (its common case): the retries go on from it.
        """
        name = provider.name
        run.tried.append(name)
        policy = self._policies[name]
        observe = run.record or bool(observers.on_attempt)
        clock = self._clock
        attempt_number = 0
        gates = self._gates
        while True:
            attempt_number += 1
            if first_result is not None:
                result, first_result = first_result, None
            else:
                gate = gates.get(name)
                held_back = (
                    None
                    if gate is None
                    else self._wait_for_slot(gate, name, policy, run, observers, sent)
                )
                if run.deadline_passed is not None:
                    return None
                if run.deadline is not None and run.deadline - clock.monotonic() <= run.margin:
                    # An attempt that would be cut off at once could still deliver
                    # while being reported as an ambiguous TIMEOUT: do not start it.
                    run.deadline_passed = f"before {name!r} could be attempted"
                    return None
                if observe:
                    started_at = clock.now()
                    started = clock.monotonic()
                if held_back is not None:
                    result = held_back
                elif run.deadline is None or getattr(provider, "returns_promptly", False) is True:
                    # A provider need not subclass MessageProvider: one without the
                    # attribute, or with anything but True there, is bounded.
                    result = self._attempt(provider, name, message)
                else:
                    result = self._attempt_before_deadline(provider, name, message, run)
                if observe:
                    finished = clock.monotonic()
                    attempt = trusted_attempt(
                        name,  # provider
                        attempt_number,  # attempt
                        started_at,
                        clock.now(),  # finished_at
                        (finished - started) * 1000.0,  # duration_ms
                        result.success,
                        result.error,
                        result.message_id,
                    )
                    if run.attempts is not None:
                        run.attempts.append(attempt)
                    if observers.on_attempt:
                        observers.on_attempt.call({"attempt": attempt, "message": sent})
            if result.success:
                return result
            error = result.error
            assert error is not None
            run.last_error = error
            if error.code is ErrorCode.TIMEOUT:
                run.timed_out = name
            if error.code is ErrorCode.RATE_LIMITED:
                retry_after = _retry_after(error)
                if retry_after is not None:
                    gates.setdefault(name, ProviderGate()).pause(
                        min(retry_after, _LONGEST_SLEEP), clock.monotonic()
                    )
            if run.deadline_passed is not None:
                return None
            if attempt_number >= policy.max_attempts or not policy.should_retry(error.code):
                return None
            delay = self._delay_before_retry(policy, attempt_number, error)
            if delay is None:
                logger.info(
                    "provider %r asked to wait %ss, more than max_delay; falling back",
                    name,
                    error.details.get("retry_after"),
                )
                return None
            if run.deadline is not None and delay >= run.deadline - clock.monotonic() - run.margin:
                if error.code is ErrorCode.RATE_LIMITED and _retry_after(error) is not None:
                    # The provider cannot take it before then, by its own word: the
                    # next channel may, within the time left (issue 13: fall back).
                    return None
                # Sleeping only to give up when we wake would just waste the caller's time.
                run.deadline_passed = f"before the next attempt of {name!r} (due in {delay:.3g}s)"
                return None
            if delay > 0 and observers.on_wait:
                observers.on_wait.call(
                    {"provider": name, "seconds": delay, "reason": "retry", "message": sent}
                )
            clock.sleep(delay)

    def _attempt(self, provider: MessageProvider, name: str, message: Message) -> DeliveryResult:
        """One call to ``provider.send``, with every non-misuse failure turned into a result."""
        try:
            result = provider.send(message)
        except BroadcastioError:
            raise  # misuse (a bad message, a missing file): the caller's to fix
        except Exception as exc:  # noqa: BLE001 - a provider bug is a failed attempt, not a crash
            return _raised(name, exc)
        return _checked(result, name)

    def _attempt_before_deadline(
        self, provider: MessageProvider, name: str, message: Message, run: _Run
    ) -> DeliveryResult:
        """``_attempt``, but the caller stops waiting when the send's deadline passes."""
        assert run.deadline is not None and run.timeout is not None
        remaining = run.deadline - self._clock.monotonic()
        try:
            return self._bounded.call(lambda: self._attempt(provider, name, message), remaining)
        except CallTimedOut:
            pass
        run.deadline_passed = f"while {name!r} was sending"
        # The result says it too; a broadcast to a hung provider must not log a line per row.
        logger.info(
            "provider %r did not answer within the send deadline of %gs; the attempt is "
            "abandoned and may still deliver",
            name,
            run.timeout,
        )
        return DeliveryResult.failed(
            name,
            ErrorCode.TIMEOUT,
            f"provider {name!r} did not answer before the send deadline of {run.timeout:g}s; "
            "the message may or may not have been delivered",
            deadline_reached=True,
            timeout=run.timeout,
        )

    def _delay_before_retry(
        self, policy: RetryPolicy, attempt_number: int, error: DeliveryError
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to give up on this provider.

        A ``RATE_LIMITED`` error may say how long the provider wants us to wait
        (``details["retry_after"]``). We wait at least that long; if it is longer
        than the policy allows (``max_delay``), retrying would break either the
        policy or the provider's request, so we fall back instead.
        """
        delay = policy.delay_for(attempt_number, self._rng)
        if error.code is ErrorCode.RATE_LIMITED:
            retry_after = _retry_after(error)
            if retry_after is not None:
                if policy.max_delay is not None and retry_after > policy.max_delay:
                    return None
                delay = max(delay, retry_after)
        # One bound for every source of wait: NaN, infinity and anything over a
        # day (an uncapped back-off, an absurd Retry-After) mean fall back.
        return delay if delay <= _LONGEST_SLEEP else None

    def _wait_for_slot(
        self,
        gate: ProviderGate,
        name: str,
        policy: RetryPolicy,
        run: _Run,
        observers: ObserverSnapshot,
        message: Message,
    ) -> DeliveryResult | None:
        """Wait for this provider's next slot; a failed result if it is paused too long.

        The failure is what the provider itself would say (``RATE_LIMITED`` with the
        remaining pause as ``retry_after``), so the usual retry rules decide what
        happens next, without spending a request the provider already refused. A
        slot past the send's deadline is not booked: the run notes where the
        deadline passed and returns ``None``.
        """
        clock = self._clock
        now = clock.monotonic()
        longest = policy.max_delay if policy.max_delay is not None else _LONGEST_SLEEP
        max_wait = None if run.deadline is None else run.deadline - now - run.margin
        wait = gate.reserve(now, max_pause=longest, max_wait=max_wait)
        if wait is None:
            remaining = gate.paused_for(now)
            if remaining <= 0:
                # Only our own pacing stands in the way (no pause the provider asked
                # for): the slot is past this send's deadline, so the send ends.
                run.deadline_passed = f"while waiting for a rate-limit slot of {name!r}"
                return None
            # The provider asked to slow down (a WhatsApp cap, a 429) and its pause
            # outlasts what this send can wait: answer what it would answer, so the
            # chain falls back to the next channel, or a broadcast waits it out.
            return DeliveryResult.failed(
                name,
                ErrorCode.RATE_LIMITED,
                f"provider {name!r} is paused for another {remaining:.3g}s "
                "after it asked to slow down",
                retry_after=remaining,
                paused=True,
            )
        if wait > 0:
            if observers.on_wait:
                observers.on_wait.call(
                    {"provider": name, "seconds": wait, "reason": "rate_limit", "message": message}
                )
            clock.sleep(wait)
        return None

    # -- broadcasts ----------------------------------------------------------------------

    def broadcast(self, messages: Iterable[Message], **options: Any) -> Any:
        """Alias of ``broadcastio.broadcast.broadcast(orchestrator, messages, **options)``.

        Kept for the spelling of earlier releases; the function, in the broadcast
        layer above this one, is the typed and documented form.
        """
        from broadcastio.broadcast.runner import broadcast

        return broadcast(self, messages, **options)

    def iter_broadcast(self, messages: Iterable[Message], **options: Any) -> Any:
        """Alias of ``broadcastio.broadcast.iter_broadcast(orchestrator, messages, **options)``."""
        from broadcastio.broadcast.runner import iter_broadcast

        return iter_broadcast(self, messages, **options)

    # -- health --------------------------------------------------------------------------

    def health(self) -> list[ProviderHealth]:
        """Every provider's health, in chain order (served from the cache while fresh)."""
        if self._closed:
            raise _closed_error()
        return [self.health_cache.get(provider) for provider in self.providers]

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called: the orchestrator then sends nothing more."""
        return self._closed

    def close(self) -> None:
        """Close every provider of the chain, once; later sends raise ``OrchestrationError``.

        Idempotent and safe from several threads: only the first call closes
        anything. Each provider is closed on its own: one whose ``close()``
        raises is logged as one warning line and the others are still closed,
        since a program shutting down has no better use for the error. A
        duck-typed provider without ``close()`` is skipped. Sends already under
        way are not waited for; close once they have returned.
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        close_providers(self.providers)

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _health_checked(self, health: ProviderHealth) -> None:
        caller = self._observers.current().on_health
        if caller:
            caller.call({"health": health})

    def __repr__(self) -> str:
        names = ", ".join(provider.name for provider in self.providers)
        return f"Orchestrator([{names}], require_healthy={self.require_healthy})"


def _retry_after(error: DeliveryError) -> float | None:
    """The positive number of seconds a ``RATE_LIMITED`` error asks us to wait, if any."""
    value = error.details.get("retry_after")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def _raised(name: str, exc: Exception) -> DeliveryResult:
    """The failed attempt of a provider whose ``send`` raised ``exc`` (not a misuse error)."""
    # One line at the default level; the traceback is for -vv (debug).
    logger.warning("provider %r raised %s during send: %s", name, type(exc).__name__, exc)
    logger.debug("traceback of provider %r's send", name, exc_info=exc)
    return DeliveryResult.failed(
        name,
        ErrorCode.UNKNOWN,
        _storable(f"provider {name!r} raised {type(exc).__name__}: {exc}"),
        exception_type=type(exc).__name__,
        exception=_storable(str(exc)),
    )


def _checked(result: object, name: str) -> DeliveryResult:
    """A provider's answer as a result every layer above can rely on.

    Not a ``DeliveryResult``, a failure without an error: ``UNKNOWN`` failures.
    A success names the provider that was called, whatever it said. Text that
    is not valid UTF-8 is made storable (``_storable``).
    """
    if not isinstance(result, DeliveryResult):
        return DeliveryResult.failed(
            name,
            ErrorCode.UNKNOWN,
            f"provider {name!r} returned {type(result).__name__}, expected DeliveryResult",
        )
    if result.success:
        message_id = result.message_id
        if result.provider != name or (isinstance(message_id, str) and not message_id.isascii()):
            return DeliveryResult(
                success=True,
                provider=name,
                message_id=_storable(message_id) if isinstance(message_id, str) else message_id,
                details=result.details,
            )
        return result
    error = result.error
    if error is None:
        return DeliveryResult.failed(
            name, ErrorCode.UNKNOWN, f"provider {name!r} reported failure without an error"
        )
    if isinstance(error.message, str) and not error.message.isascii():
        stored = _storable(error.message)
        if stored is not error.message:
            return attrs.evolve(
                result,
                error=DeliveryError(code=error.code, message=stored, details=error.details),
            )
    return result


def _storable(text: str) -> str:
    """Provider-supplied text that every store and stream can take (UTF-8).

    A provider may hand back a lone surrogate (a half-decoded byte string, a
    bug in a server's JSON): the journal's SQLite, a results file and the
    terminal would all fail on it in the middle of a broadcast. Such
    characters are replaced by ``\\udXXX`` escapes, once, at the point where
    provider output enters broadcastio; valid text is returned as it is.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _past_deadline(error: DeliveryError | None, run: _Run) -> DeliveryError:
    """The final error of a send whose deadline passed, saying so.

    An attempt cut off by the deadline is already a ``TIMEOUT`` saying so. An
    error from an attempt that did finish keeps its code (the message did not go
    out; a resume may send it again) and gains where the deadline passed. With
    no attempt at all nothing can have gone out, so that is
    ``PROVIDER_UNAVAILABLE``, not an ambiguous ``TIMEOUT``.
    """
    timeout = run.timeout
    if error is not None and error.details.get("deadline_reached"):
        return error
    if error is None:
        return DeliveryError(
            code=ErrorCode.PROVIDER_UNAVAILABLE,
            message=f"the send deadline of {timeout:g}s was reached {run.deadline_passed} "
            "and no provider was attempted",
            details={"deadline_reached": True, "timeout": timeout},
        )
    return DeliveryError(
        code=error.code,
        message=f"{error.message}; then the send deadline of {timeout:g}s was reached "
        f"{run.deadline_passed}",
        details={**error.details, "deadline_reached": True, "timeout": timeout},
    )


def _closed_error() -> OrchestrationError:
    return OrchestrationError(
        "this orchestrator was closed, and its providers with it; build a new one to send again",
        code=ErrorCode.NO_PROVIDERS,
        details={"closed": True},
    )


def _health_reason(health: ProviderHealth) -> str:
    details = health.details
    for key in ("reason", "error", "state"):
        if key in details:
            return str(details[key])
    return "not ready"

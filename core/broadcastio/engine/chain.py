"""Checking what an orchestrator is built from, so misconfiguration fails at construction.

A chain that cannot work (no providers, a provider class instead of an instance,
two providers with one name, a retry policy that is not a ``RetryPolicy``) is
reported when the orchestrator is built, naming the culprit, instead of
surfacing as an ``AttributeError`` in the middle of the first send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from broadcastio.errors.codes import ErrorCode
from broadcastio.records.rate_limit import RateLimit
from broadcastio.records.retry import RetryPolicy
from broadcastio.errors import ConfigurationError, OrchestrationError
from broadcastio.engine.relay import is_relay
from broadcastio.providers.base import MessageProvider

__all__ = ["check_chain", "check_orchestrator_arguments", "check_per_provider"]


def check_chain(
    providers: Iterable[MessageProvider],
) -> tuple[tuple[MessageProvider, ...], list[RetryPolicy | None]]:
    """The providers as a tuple, and each one's own retry policy (``None`` if it has none).

    Providers are duck-typed (a ``name``, ``send`` and ``health`` suffice), so
    ``retry_policy`` is optional; when present it must be a ``RetryPolicy``.
    """
    if isinstance(providers, (str, bytes)) or not isinstance(providers, Iterable):
        raise ConfigurationError(
            f"providers must be a list of providers, got {type(providers).__name__}"
        )
    chain = tuple(providers)
    if not chain:
        raise OrchestrationError(
            "an orchestrator needs at least one provider", code=ErrorCode.NO_PROVIDERS
        )
    names: set[str] = set()
    policies: list[RetryPolicy | None] = []
    for index, provider in enumerate(chain):
        if isinstance(provider, type):
            raise ConfigurationError(
                f"providers[{index}] is the class {provider.__qualname__}, not a provider; "
                f"pass an instance, e.g. {provider.__qualname__}()"
            )
        name = getattr(provider, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"providers[{index}] ({provider!r}) has no name; a provider needs a "
                "non-empty 'name' string"
            )
        if not callable(getattr(provider, "send", None)) or not callable(
            getattr(provider, "health", None)
        ):
            raise ConfigurationError(
                f"provider {name!r} must have send(message) and health() methods"
            )
        if name in names:
            raise ConfigurationError(
                f"provider name {name!r} appears twice in the chain; names identify "
                "providers in traces and health reports, so they must be unique"
            )
        names.add(name)
        own_policy = getattr(provider, "retry_policy", None)
        if own_policy is not None and not isinstance(own_policy, RetryPolicy):
            raise ConfigurationError(
                f"provider {name!r} has a retry_policy that is not a RetryPolicy: {own_policy!r}"
            )
        policies.append(own_policy)
    return chain, policies


def check_orchestrator_arguments(
    *,
    retry_policy: Any,
    health_ttl: Any,
    require_healthy: Any,
    callbacks: Mapping[str, Callable[..., Any] | None],
    plugin_manager: Any,
    clock: Any,
    rng: Any,
) -> None:
    """Reject constructor arguments of the wrong kind, naming the argument."""
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise ConfigurationError(
            f"retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}"
        )
    if health_ttl is not None and (
        isinstance(health_ttl, bool)
        or not isinstance(health_ttl, (int, float))
        # The same day-long bound as the configuration's: past it a cached answer
        # says nothing about now, and a huge int would overflow the float clock.
        or not 0 <= health_ttl <= 86_400
    ):
        shown = repr(health_ttl) if len(repr(health_ttl)) <= 40 else "a huge number"
        raise ConfigurationError(
            f"health_ttl must be a number of seconds from 0 to 86400, or None; got {shown}"
        )
    for label, callback in callbacks.items():
        if callback is not None and not callable(callback):
            raise ConfigurationError(f"{label} must be callable, got {callback!r}")
    if plugin_manager is not None and not is_relay(plugin_manager):
        raise ConfigurationError(
            "plugin_manager must be a broadcastio.plugins.manager.PluginManager "
            "(or another HookRelay: generation, hook_implementations and hook_argnames)"
        )
    if not isinstance(require_healthy, bool):
        raise ConfigurationError(f"require_healthy must be true or false, got {require_healthy!r}")
    if clock is not None and not all(
        callable(getattr(clock, method, None)) for method in ("now", "monotonic", "sleep")
    ):
        raise ConfigurationError("clock must have now(), monotonic() and sleep(seconds)")
    if rng is not None and not callable(getattr(rng, "uniform", None)):
        raise ConfigurationError("rng must be a random.Random (it needs uniform(a, b))")


def check_per_provider(
    chain: tuple[MessageProvider, ...],
    retry_policies: Any,
    rate_limits: Any,
) -> tuple[dict[str, RetryPolicy], dict[str, RateLimit]]:
    """Check ``retry_policies`` and ``rate_limits``: maps from a provider in the chain.

    A name that is not in the chain is an error rather than ignored: a limit
    meant for ``whatsapp`` but spelled ``whatsap`` would otherwise leave the
    account unpaced without a word.
    """
    names = [provider.name for provider in chain]
    policies = _check_mapping("retry_policies", retry_policies, names)
    limits = _check_mapping("rate_limits", rate_limits, names)
    for name, policy in policies.items():
        if not isinstance(policy, RetryPolicy):
            raise ConfigurationError(
                f"retry_policies[{name!r}] must be a RetryPolicy, got {type(policy).__name__}"
            )
    parsed = {}
    for name, limit in limits.items():
        try:
            parsed[name] = RateLimit.coerce(limit)
        except ValueError as exc:
            raise ConfigurationError(f"rate_limits[{name!r}]: {exc}") from None
    return dict(policies), parsed


def _check_mapping(label: str, value: Any, names: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"{label} must map provider names to values, got {type(value).__name__}"
        )
    unknown = sorted(str(name) for name in value if name not in names)
    if unknown:
        raise ConfigurationError(
            f"{label} names provider(s) not in the chain: {', '.join(map(repr, unknown))}; "
            f"the chain is: {', '.join(names)}"
        )
    return value

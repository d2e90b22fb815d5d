"""The orchestrator a worker sends with: the configured chain, paced fleet-wide through Redis.

Built exactly as the command line builds it (the same configuration file, the
same ``--provider`` order, the same default deadline), then rebuilt around
``FleetPacedProvider`` wrappers: each provider that has a ``rate_limit`` draws
its slots from Redis instead of from an in-process gate, and every provider's
``RATE_LIMITED`` pause is shared by the fleet. The in-process gates are left
out (``rate_limits={}``) so a send is paced once, by the fleet's bucket.

Every provider's retry policy gets a ``max_delay`` of at most the longest
fleet-slot wait: a worker's thread never sleeps through a long rate limit
(a WhatsApp cap's hour) in the orchestrator. The send ends ``RATE_LIMITED``
with its ``retry_after`` instead, and the worker puts the message back on
the queue for that long (``deferral``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from broadcastio.config import build_orchestrator, load_config
from broadcastio.distributed.fleet_rate import FleetGate, FleetPacedProvider
from broadcastio.engine.orchestrator import Orchestrator
from broadcastio.records.retry import RetryPolicy

__all__ = ["DEFAULT_SEND_TIMEOUT", "worker_orchestrator"]

DEFAULT_SEND_TIMEOUT = 300.0
"""Seconds a send may take when the configuration says nothing (as on the command line)."""

# The longest a send waits for a fleet slot before failing as RATE_LIMITED:
# a fraction of the send's deadline, so a wait never turns into a TIMEOUT.
_MAX_WAIT_SHARE = 0.5
_MAX_WAIT = 60.0


def worker_orchestrator(
    config_path: str | os.PathLike[str] | None,
    providers: Sequence[str],
    redis_client: Any,
    *,
    namespace: str = "broadcastio",
) -> Orchestrator:
    """The configured chain (``--provider`` order if given), paced and paused fleet-wide.

    ``ConfigurationError`` names the file and key, as for any command.
    """
    config = load_config(None if config_path is None else Path(config_path))
    timeout = config.orchestrator.timeout or DEFAULT_SEND_TIMEOUT
    base = build_orchestrator(config, order=list(providers) or None, timeout=timeout)
    max_wait = min(_MAX_WAIT, timeout * _MAX_WAIT_SHARE)
    names = {provider.name for provider in base.providers}
    wrapped = [
        FleetPacedProvider(
            provider,
            FleetGate(
                redis_client,
                provider.name,
                base.rate_limits.get(provider.name),
                namespace=namespace,
            ),
            max_wait=max_wait,
        )
        for provider in base.providers
    ]
    # Each provider's effective policy, as the orchestrator resolves it, capped.
    policies = {
        provider.name: _capped(
            config.retry_policies.get(provider.name)
            or getattr(provider, "retry_policy", None)
            or base.retry_policy,
            max_wait,
        )
        for provider in base.providers
    }
    try:
        # The same arguments ``build_orchestrator`` gave ``base``, except the
        # in-process rate limits (the fleet's bucket paces instead) and the
        # retry policies' max_delay (long pauses go back on the queue).
        return Orchestrator(
            wrapped,
            retry_policy=base.retry_policy,
            health_ttl=base.health_cache.ttl,
            require_healthy=base.require_healthy,
            retry_policies={k: v for k, v in policies.items() if k in names},
            rate_limits={},
            timeout=timeout,
            plugin_manager=base.plugin_manager,
        )
    except BaseException:
        base.close()
        raise


def _capped(policy: RetryPolicy, longest: float) -> RetryPolicy:
    """``policy`` with a ``max_delay`` of at most ``longest`` (never below its base delay)."""
    current = math.inf if policy.max_delay is None else policy.max_delay
    cap = max(longest, policy.base_delay)
    if current <= cap:
        return policy
    return attrs.evolve(policy, max_delay=cap)

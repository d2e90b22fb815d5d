"""Provider instances: a provider type, as a plugin registers it, used under a name of its own.

Plugins register provider *types* (``whatsapp``, ``email``): a class each.
Users configure *instances*: ``settings={"alerts-mail": {"type": "email", ...}}``
in Python, ``[providers.alerts-mail]`` with ``type = "email"`` in a file. A table
without ``type`` is an instance of the type it is named after, so
``{"whatsapp": {...}}`` means what it meant before instances existed. Every
installed type can also be named in an order without any table: that is its
*default instance*, named like the type, with default settings.

The instance name is the provider's name everywhere after assembly: in the
chain, traces, health reports, retry policies and rate limits. Two instances
of one type are two providers, paced, retried and health-checked apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from broadcastio.errors import BroadcastioError, ConfigurationError
from broadcastio.plugins.registry import PROVIDER_NAME, ProviderRegistration

__all__ = ["TYPE_KEY", "ProviderInstance", "configured_instances", "default_instance"]

TYPE_KEY = "type"
"""The key of a settings table that names the instance's provider type."""


@attrs.frozen
class ProviderInstance:
    """One provider to build: its name, the registration of its type, and its settings table.

    ``settings`` is the user's table without ``type``; ``None`` for a default
    instance nobody wrote a table for (it is built with the type's defaults).
    """

    name: str
    registration: ProviderRegistration
    settings: Mapping[str, Any] | None = None

    @property
    def type(self) -> str:
        """The provider type, the name its plugin registered."""
        return self.registration.name

    @property
    def configured(self) -> bool:
        """Whether a settings table describes this instance (a table is configuration)."""
        return self.settings is not None


def default_instance(registration: ProviderRegistration) -> ProviderInstance:
    """The instance a type has without any table: named like the type, default settings."""
    return ProviderInstance(name=registration.name, registration=registration)


def configured_instances(
    settings: Mapping[str, Any], registrations: Mapping[str, ProviderRegistration]
) -> dict[str, ProviderInstance]:
    """Every instance ``settings`` describes, by name, or one error listing each bad table.

    Each problem sits at its key in ``settings``: an unknown ``type`` at
    ``(NAME, "type")``, naming the available types; a table named after no
    installed type and without a ``type`` at ``(NAME,)``. All are reported at
    once, so fixing a file takes one run, not one per mistake.
    """
    available = ", ".join(sorted(registrations)) or "none"
    instances: dict[str, ProviderInstance] = {}
    unknown_names: list[str] = []
    unknown_types: dict[str, str] = {}
    unprovided: list[BroadcastioError] = []
    mistyped: list[BroadcastioError] = []
    for name, table in settings.items():
        if not isinstance(table, Mapping):
            raise ConfigurationError(
                f"settings for provider {name!r} must be a table/dict, got {type(table).__name__}",
                details={"provider": name},
            )
        own = {key: value for key, value in table.items() if key != TYPE_KEY}
        if TYPE_KEY not in table:
            if name in registrations:
                instances[name] = ProviderInstance(name, registrations[name], own)
            else:
                unknown_names.append(name)
                unprovided.append(
                    ConfigurationError(
                        key_path=(name,),
                        problem=f"no installed plugin provides {name!r} (available: {available}); "
                        f"an instance of one of them needs type = 'TYPE'",
                    )
                )
            continue
        type_name = table[TYPE_KEY]
        problem = _type_problem(name, type_name, registrations, available)
        if problem is not None:
            if isinstance(type_name, str):
                unknown_types[name] = type_name
            mistyped.append(problem)
            continue
        instances[name] = ProviderInstance(name, registrations[type_name], own)
    if unprovided or mistyped:
        sentences = []
        if unknown_names:
            # The sentence a caller of from_plugins reads; the problems say where.
            sentences.append(
                f"settings given for unknown provider(s) {', '.join(map(repr, unknown_names))}; "
                f"available providers: {available}"
            )
        sentences += [problem.message for problem in mistyped]
        raise ConfigurationError(
            "; ".join(sentences),
            details={
                "unknown": unknown_names,
                "unknown_types": unknown_types,
                "available": sorted(registrations),
            },
            problems=[*unprovided, *mistyped],
        )
    return instances


def _type_problem(
    name: str,
    type_name: Any,
    registrations: Mapping[str, ProviderRegistration],
    available: str,
) -> ConfigurationError | None:
    """What is wrong with table ``name`` saying ``type = type_name``, if anything."""
    at_type = (name, TYPE_KEY)
    if not isinstance(type_name, str) or not type_name:
        return ConfigurationError(
            key_path=at_type,
            problem=f"expected the name of a provider type (available: {available}), "
            f"got {type_name!r}",
        )
    if type_name not in registrations:
        return ConfigurationError(
            key_path=at_type,
            problem=f"unknown provider type {type_name!r}; available types: {available}",
        )
    if name != type_name and name in registrations:
        # [providers.whatsapp] type = "dummy" would make "whatsapp" in an order,
        # a trace or an environment variable's default instance mean a dummy.
        return ConfigurationError(
            key_path=at_type,
            problem=f"{name!r} is the name of the {name!r} provider type; "
            f"give this {type_name!r} instance another name",
        )
    if not PROVIDER_NAME.match(name):
        return ConfigurationError(
            key_path=(name,),
            problem=f"instance name {name!r} must start with a letter or digit and hold only "
            "letters, digits, '_', '-' and '.' (it is used in --provider and traces)",
        )
    return None

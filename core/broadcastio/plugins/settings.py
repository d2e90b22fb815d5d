"""Turning a user's settings dict into a configured provider instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from cattrs.errors import ClassValidationError, IterableValidationError

from broadcastio.errors import BroadcastioError, ConfigurationError
from broadcastio.records.serialization import converter, describe_problem, structure_problems
from broadcastio.plugins.registry import ProviderRegistration
from broadcastio.providers.base import MessageProvider, close_providers

__all__ = ["build_provider", "structure_settings"]


def structure_settings(
    registration: ProviderRegistration,
    settings: Mapping[str, Any] | None,
    environ: Mapping[str, str] | None = None,
    *,
    instance: str | None = None,
) -> Any:
    """Check a provider's settings dict and build its settings object (``None`` if it has none).

    Unknown, missing and mistyped settings are a ``ConfigurationError`` that names
    the provider and the field, raised before anything is sent. Its ``problems``
    are the individual problems, each with its key path inside the provider's
    settings, and ``details`` names the provider, the known settings and the
    unknown ones, so the configuration layer can point at each key.

    With ``environ``, a settings type that has a ``with_environment(environ)``
    method gets it applied: the plugin fills the fields its own environment
    variables provide, in the one place it decides that, so ``broadcastio config``
    shows the values the provider will actually use. A bad variable is a
    ``ConfigurationError`` naming the provider.

    ``instance`` is the name of the provider instance the settings are for
    (``alerts-mail`` of type ``email``); errors name it, in ``details["provider"]``
    too, so they are placed at that instance's table. Unset: the type's own name.
    """
    name = _label(registration, instance)
    settings_type = registration.provider_class.settings_type
    if settings is not None and not isinstance(settings, Mapping):
        raise ConfigurationError(
            f"settings for provider {name!r} must be a table/dict, got {type(settings).__name__}",
            details={"provider": name},
        )
    if settings_type is None:
        if settings:
            raise ConfigurationError(
                f"provider {name!r} takes no settings, got: {', '.join(map(str, settings))}",
                details={"provider": name},
            )
        return None
    try:
        structured = converter.structure(dict(settings or {}), settings_type)
    except (ClassValidationError, IterableValidationError, ValueError, TypeError) as exc:
        problems = structure_problems(exc, settings_type)
        lines = [describe_problem(problem) for problem in problems]
        unknown = sorted(set(settings or {}) - set(_field_names(settings_type)))
        known = _field_names(settings_type)
        raise ConfigurationError(
            f"invalid settings for provider {name!r}: "
            + "; ".join(f"setting {line}" for line in lines)
            + (f" (known settings: {', '.join(known)})" if known else ""),
            details={
                "provider": name,
                "problems": lines,
                "known": known,
                "unknown_settings": unknown,
            },
            problems=problems,
        ) from exc
    resolve = getattr(structured, "with_environment", None)
    if environ is None or not callable(resolve):
        return structured
    try:
        return resolve(environ)
    except BroadcastioError as exc:
        raise ConfigurationError(
            # The cause stays a field (problems=); its sentence is part of this one.
            problem=f"provider {name!r} rejected its environment: {exc.message}",
            field=exc.field,
            problems=(exc,),
            details={"provider": name, **exc.details},
        ) from exc


def build_provider(
    registration: ProviderRegistration, settings: Any, *, instance: str | None = None
) -> MessageProvider:
    """Instantiate a registered provider with settings from ``structure_settings``.

    Whatever the constructor raises becomes a ``ConfigurationError`` naming the
    provider: a provider that cannot start is a set-up problem, found before any send.
    When the constructor's error names one of the settings (its ``field``), so
    does this one, for the configuration layer to point at that key.

    ``instance`` names the provider instance being built. The provider is
    constructed as always, ``ProviderClass(settings)``, and then, when its
    ``name`` is not the instance name, given it: ``provider.name = instance``
    (an instance attribute shadowing the class's ``name``). So a provider needs
    no constructor argument to take part in instances, but must report through
    ``self.name`` read when it reports. A settings type with a ``name`` field of
    its own (the dummy's) that says something else is a ``ConfigurationError``
    at that setting: two names for one provider would leave a trace and the
    configuration disagreeing about who delivered.
    """
    name = _label(registration, instance)
    own_name = getattr(settings, "name", None)
    if instance is not None and isinstance(own_name, str) and own_name != instance:
        raise ConfigurationError(
            f"provider {name!r} has name = {own_name!r} in its settings; the instance name "
            f"names the provider, so leave name out, or call the instance {own_name!r} "
            f"(with type = {registration.name!r})",
            details={"provider": instance, "setting": "name"},
            field="name",
        )
    provider = _construct(registration, settings, name)
    if instance is not None and getattr(provider, "name", None) != instance:
        try:
            provider.name = instance  # type: ignore[misc]
        except (AttributeError, TypeError) as exc:
            close_providers([provider])
            raise ConfigurationError(
                f"provider {name!r}: its type {registration.name!r} does not let an instance "
                f"be named ({type(exc).__name__}: {exc}); use the type's own name",
                details={"provider": instance},
            ) from exc
    return provider


def _construct(registration: ProviderRegistration, settings: Any, name: str) -> MessageProvider:
    """``ProviderClass(settings)``; a failure becomes a ``ConfigurationError`` naming ``name``."""
    provider_class = registration.provider_class
    try:
        if provider_class.settings_type is None:
            return provider_class()
        return provider_class(settings)  # type: ignore[call-arg]
    except ConfigurationError as exc:
        if "provider" in exc.details or exc.key_path or type(exc).__init__ is not (
            BroadcastioError.__init__
        ):
            raise
        # A constructor's own check ("needs host"): the same words, now saying
        # which instance (and, when the error names it, which setting) so the
        # configuration layer can point at ``providers.NAME[.KEY]`` in the file.
        setting = exc.field if exc.field in _field_names(provider_class.settings_type) else None
        details = {"provider": name, **exc.details}
        if setting is not None:
            details["setting"] = setting
        raise exc.evolve(details=details, field=setting) from exc
    except BroadcastioError as exc:
        details = {"provider": name, **exc.details}
        setting = exc.field if exc.field in _field_names(provider_class.settings_type) else None
        if setting is not None:
            details["setting"] = setting
        raise ConfigurationError(
            f"provider {name!r} rejected its settings: {exc.message}",
            details=details,
            field=setting,
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"provider {name!r} could not be created: {type(exc).__name__}: {exc}",
            details={"provider": name},
        ) from exc


def _label(registration: ProviderRegistration, instance: str | None) -> str:
    """How errors name the provider: the instance name, else the type's."""
    return registration.name if instance is None else instance


def _field_names(settings_type: type[Any] | None) -> list[str]:
    if settings_type is None or not attrs.has(settings_type):
        return []
    return [field.name for field in attrs.fields(settings_type)]

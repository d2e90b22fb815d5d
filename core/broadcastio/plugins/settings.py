"""Turning a user's settings dict into a configured provider instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cattrs.errors import ClassValidationError, IterableValidationError

from broadcastio.core.serialization import converter, describe_structure_error
from broadcastio.errors import BroadcastioError, ConfigurationError
from broadcastio.plugins.registry import ProviderRegistration
from broadcastio.providers.base import MessageProvider

__all__ = ["build_provider", "structure_settings"]


def structure_settings(
    registration: ProviderRegistration, settings: Mapping[str, Any] | None
) -> Any:
    """Check a provider's settings dict and build its settings object (``None`` if it has none).

    Unknown, missing and mistyped settings are a ``ConfigurationError`` that names
    the provider and the field, raised before anything is sent.
    """
    name = registration.name
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
        return converter.structure(dict(settings or {}), settings_type)
    except (ClassValidationError, IterableValidationError, ValueError, TypeError) as exc:
        problems = describe_structure_error(exc)
        raise ConfigurationError(
            f"invalid settings for provider {name!r}: "
            + "; ".join(f"setting {problem}" for problem in problems),
            details={"provider": name, "problems": problems},
        ) from exc


def build_provider(registration: ProviderRegistration, settings: Any) -> MessageProvider:
    """Instantiate a registered provider with settings from ``structure_settings``.

    Whatever the constructor raises becomes a ``ConfigurationError`` naming the
    provider: a provider that cannot start is a set-up problem, found before any send.
    """
    name = registration.name
    provider_class = registration.provider_class
    try:
        if provider_class.settings_type is None:
            return provider_class()
        return provider_class(settings)  # type: ignore[call-arg]
    except ConfigurationError:
        raise
    except BroadcastioError as exc:
        raise ConfigurationError(
            f"provider {name!r} rejected its settings: {exc.message}",
            details={"provider": name, **exc.details},
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"provider {name!r} could not be created: {type(exc).__name__}: {exc}",
            details={"provider": name},
        ) from exc

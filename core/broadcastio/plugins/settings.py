"""Turning a user's settings dict into a configured provider instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cattrs.errors import ClassValidationError, IterableValidationError

from broadcastio.core.serialization import converter, describe_structure_error
from broadcastio.errors import BroadcastioError, ConfigurationError
from broadcastio.plugins.registry import ProviderRegistration
from broadcastio.providers.base import MessageProvider

__all__ = ["build_provider"]


def build_provider(
    registration: ProviderRegistration, settings: Mapping[str, Any] | None
) -> MessageProvider:
    """Instantiate a registered provider with its settings structured by cattrs.

    Unknown, missing and mistyped settings are a ``ConfigurationError`` that names
    the provider and the field, raised before anything is sent.
    """
    name = registration.name
    provider_class = registration.provider_class
    settings_type = provider_class.settings_type
    if settings is not None and not isinstance(settings, Mapping):
        raise ConfigurationError(
            f"settings for provider {name!r} must be a table/dict, got {type(settings).__name__}",
            details={"provider": name},
        )
    try:
        if settings_type is None:
            if settings:
                raise ConfigurationError(
                    f"provider {name!r} takes no settings, got: {', '.join(map(str, settings))}",
                    details={"provider": name},
                )
            return provider_class()
        try:
            structured = converter.structure(dict(settings or {}), settings_type)
        except (ClassValidationError, IterableValidationError, ValueError, TypeError) as exc:
            problems = describe_structure_error(exc)
            raise ConfigurationError(
                f"invalid settings for provider {name!r}: "
                + "; ".join(f"setting {problem}" for problem in problems),
                details={"provider": name, "problems": problems},
            ) from exc
        return provider_class(structured)  # type: ignore[call-arg]
    except BroadcastioError as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(
            f"provider {name!r} rejected its settings: {exc.message}",
            details={"provider": name, **exc.details},
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"provider {name!r} could not be created: {type(exc).__name__}: {exc}",
            details={"provider": name},
        ) from exc

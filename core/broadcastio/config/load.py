"""Reading a TOML file into a ``BroadcastioConfig``, with errors that name file and key.

Every problem is a ``ConfigurationError`` whose message starts with the file and
the dotted key path (``broadcastio.toml: providers.whatsapp.retry.backoff:``) and
then says what was expected, so a user can fix it without reading a traceback.
The file, the key path and the problem are the error's ``source``, ``key_path``
and ``problem``; the message is made from them, never the other way round.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from cattrs.errors import ClassValidationError, IterableValidationError

from broadcastio.config.interpolation import interpolate
from broadcastio.config.locate import ConfigLocation, find_config
from broadcastio.config.model import (
    BroadcastConfig,
    BroadcastioConfig,
    OrchestratorConfig,
    ProviderConfig,
)
from broadcastio.records.rate_limit import RateLimit
from broadcastio.records.retry import RetryPolicy
from broadcastio.errors import ConfigurationError, KeyPath, format_key_path
from broadcastio.records.serialization import converter, structure_problems

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["load_config", "parse_config"]

_TOP_LEVEL = ("orchestrator", "providers", "broadcast")
# No setting needs more than a handful of levels; a limit far below Python's
# recursion limit keeps every recursive step after parsing (interpolation,
# structuring, printing) safe, and a limit at all answers a hostile file with
# an error instead of a RecursionError.
MAX_DEPTH = 32
# TOML integers are 64-bit (the spec requires an error beyond); tomllib reads
# any size, and a float setting given 10**400 would overflow on conversion.
_INT64 = range(-(2**63), 2**63)
# Keys of a provider table that configure the orchestrator, not the provider:
# ``type`` picks the plugin that builds the instance, the others shape its use.
_ORCHESTRATION_KEYS = ("type", "retry", "rate_limit")


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> BroadcastioConfig:
    """Find (see ``find_config``), read and check the configuration.

    No file anywhere is not an error: the result holds the defaults, and every
    installed provider is used.
    """
    environ = os.environ if environ is None else environ
    location = find_config(path, environ=environ, cwd=cwd)
    if location.path is None:
        return BroadcastioConfig(source=location)
    try:
        with open(location.path, "rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            source=str(location.path), problem=f"invalid TOML: {exc}"
        ) from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigurationError(
            source=str(location.path),
            problem="invalid TOML: arrays or tables nested too deeply to read "
            f"(a configuration needs at most {MAX_DEPTH} levels)",
        ) from None
    except ValueError:
        # Not a TOMLDecodeError: Python refuses to read an integer of thousands of digits.
        raise ConfigurationError(
            source=str(location.path),
            problem="invalid TOML: an integer has thousands of digits; TOML integers are 64-bit",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            source=str(location.path), problem=f"cannot be read: {exc}"
        ) from None
    return parse_config(data, source=location, environ=environ)


def parse_config(
    data: Mapping[str, Any],
    *,
    source: ConfigLocation | None = None,
    environ: Mapping[str, str] | None = None,
) -> BroadcastioConfig:
    """Check an already-parsed configuration (a TOML document as a dict)."""
    source = source if source is not None else ConfigLocation(None, "dict")
    label = str(source.path) if source.path is not None else "configuration"
    try:
        return _parse(data, source, os.environ if environ is None else environ)
    except ConfigurationError as exc:
        located = exc.evolve(details={"file": label, **exc.details}).located(label)
        raise located from None


def _parse(
    data: Mapping[str, Any], source: ConfigLocation, environ: Mapping[str, str]
) -> BroadcastioConfig:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"expected a table at the top level, got {type(data).__name__}")
    _check_shape(data)
    _reject_unknown(data, _TOP_LEVEL, ())
    data = interpolate(dict(data), environ)
    orchestrator_table = dict(_table(data.get("orchestrator", {}), ("orchestrator",)))
    # The default policy is structured on its own so that its errors name the
    # field (orchestrator.retry.max_attempts), as a provider's retry table's do.
    retry = None
    if "retry" in orchestrator_table:
        retry_key = ("orchestrator", "retry")
        retry_table = _table(orchestrator_table.pop("retry"), retry_key)
        retry = _structure(retry_table, RetryPolicy, retry_key)
    orchestrator = _structure(orchestrator_table, OrchestratorConfig, ("orchestrator",))
    if retry is not None:
        orchestrator = attrs.evolve(orchestrator, retry=retry)
    providers_table = _table(data.get("providers", {}), ("providers",))
    providers = {
        name: _provider(_table(table, ("providers", name)), ("providers", name))
        for name, table in providers_table.items()
    }
    broadcast_table = _table(data.get("broadcast", {}), ("broadcast",))
    broadcast = _structure(dict(broadcast_table), BroadcastConfig, ("broadcast",))
    return BroadcastioConfig(
        source=source, orchestrator=orchestrator, providers=providers, broadcast=broadcast
    )


def _check_shape(data: Mapping[str, Any]) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and integers outside 64 bits, naming the key.

    Iterative on purpose: this is the check that must not itself recurse too deep.
    """
    pending: list[tuple[Any, KeyPath, int]] = [(data, (), 0)]
    while pending:
        value, key, depth = pending.pop()
        children: list[tuple[Any, KeyPath]]
        if isinstance(value, Mapping):
            children = [(item, (*key, str(name))) for name, item in value.items()]
        elif isinstance(value, list):
            children = [(item, (*key, index)) for index, item in enumerate(value)]
        else:
            if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
                raise _error_at(
                    key,
                    "integer out of range: TOML integers are 64-bit "
                    f"(-2**63 to 2**63-1), got {_digits(value)}",
                )
            continue
        if depth >= MAX_DEPTH:
            raise _error_at(
                key, f"nested more than {MAX_DEPTH} levels deep; no setting needs that many"
            )
        pending.extend((item, path, depth + 1) for item, path in children)


def _digits(value: int) -> str:
    """A huge integer described by its size: printing 400 digits helps nobody."""
    digits = len(str(abs(value)))
    return f"an integer of {digits} digits" if digits > 21 else str(value)


def _error_at(key: KeyPath, problem: str) -> ConfigurationError:
    """A problem at ``key``; ``details["key"]`` keeps the dotted spelling callers read."""
    return ConfigurationError(key_path=key, problem=problem, details={"key": format_key_path(key)})


def _provider(table: dict[str, Any], key: KeyPath) -> ProviderConfig:
    settings = {name: value for name, value in table.items() if name not in _ORCHESTRATION_KEYS}
    retry = None
    if "retry" in table:
        retry_table = _table(table["retry"], (*key, "retry"))
        retry = _structure(retry_table, RetryPolicy, (*key, "retry"))
    rate_limit = None
    if "rate_limit" in table:
        rate_limit = _rate_limit(table["rate_limit"], (*key, "rate_limit"))
    provider_type = None
    if "type" in table:
        provider_type = table["type"]
        if not isinstance(provider_type, str) or not provider_type:
            # Whether the type is installed is the plugin assembly's question;
            # that it is a name at all is checked here, where the file is read.
            raise _error_at(
                (*key, "type"),
                f"expected the name of a provider type (a string such as 'email'), "
                f"got {'an empty string' if provider_type == '' else _kind(provider_type)}",
            )
    return ProviderConfig(settings=settings, retry=retry, rate_limit=rate_limit, type=provider_type)


def _rate_limit(value: Any, key: KeyPath) -> RateLimit:
    """``"20/minute"``, or a table ``{ rate = "20/minute", burst = 5 }``."""
    try:
        if isinstance(value, dict):
            _reject_unknown(value, ("rate", "burst"), key)
            if "rate" not in value:
                raise ValueError("a rate_limit table needs rate = 'COUNT/UNIT'")
            return RateLimit.parse(value["rate"], burst=value.get("burst", 1))
        return RateLimit.parse(value)
    except ValueError as exc:
        raise _error_at(key, str(exc)) from None


def _table(value: Any, key: KeyPath) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _error_at(key, f"expected a table, got {_kind(value)}")
    return value


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(field.name for field in attrs.fields(cls))


def _reject_unknown(table: Mapping[str, Any], known: tuple[str, ...], key: KeyPath) -> None:
    for name in table:
        if name not in known:
            raise _error_at((*key, str(name)), f"unknown key; expected one of: {', '.join(known)}")


def _structure(table: dict[str, Any], cls: type[Any], key: KeyPath) -> Any:
    _reject_unknown(table, _field_names(cls), key)
    try:
        return converter.structure(table, cls)
    except (ClassValidationError, IterableValidationError, ValueError, TypeError) as exc:
        first = structure_problems(exc, cls)[0]
        raise _error_at((*key, *first.key_path), first.problem) from None


def _kind(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number"}.get(
        type(value), type(value).__name__
    )

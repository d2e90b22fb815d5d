"""The typed shape of a configuration file, independent of where it came from.

``[orchestrator]`` holds what the ``Orchestrator`` constructor takes; each
``[providers.NAME]`` table is one provider *instance* named NAME: its own
settings plus three keys consumed on its behalf: ``type`` (which installed
provider type it is; NAME itself when unset), ``retry`` (a table, the
instance's ``RetryPolicy``) and ``rate_limit`` (``"20/minute"``).
``[broadcast]`` holds the defaults of ``broadcastio broadcast`` and
``broadcastio worker`` (``BroadcastConfig``). Provider
settings stay a plain dict here because only the installed plugin knows their
type; they are checked against it when an orchestrator is built.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import attrs

from broadcastio.config.locate import ConfigLocation
from broadcastio.errors import ValidationError
from broadcastio.engine.deadline import check_timeout
from broadcastio.records.checks import check_number
from broadcastio.records.rate_limit import RateLimit
from broadcastio.records.retry import RetryPolicy
from broadcastio.records.serialization import converter

__all__ = [
    "BroadcastConfig",
    "BroadcastioConfig",
    "OrchestratorConfig",
    "ProviderConfig",
    "REDACTED",
    "redact",
    "redact_url",
]

REDACTED = "***"
# Keys whose values are secrets wherever they appear: shown as REDACTED.
_SECRET_KEY = re.compile(r"key|token|secret|password|passwd|credential", re.IGNORECASE)


# A health answer cached for more than a day is no longer an answer about now.
HEALTH_TTL_LIMIT = 86400.0


def _check_ttl(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    check_number(attribute.name, value, maximum=HEALTH_TTL_LIMIT)


def _check_send_timeout(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    check_timeout(attribute.name, value)


@attrs.frozen
class OrchestratorConfig:
    """The ``[orchestrator]`` table: chain order, health caching and the default retry policy.

    ``order`` unset means every configured provider that is not a test double
    (it has a ``[providers.NAME]`` table or its environment variables are set),
    highest priority first. ``timeout`` is the whole-send deadline in seconds
    (unset: none in Python; the command line then uses its own default).
    ``health_ttl`` is 0..86400 seconds (0: ask the providers before every send).
    """

    order: tuple[str, ...] | None = None
    health_ttl: float = attrs.field(default=30.0, validator=_check_ttl)
    require_healthy: bool = False
    retry: RetryPolicy | None = None
    timeout: float | None = attrs.field(default=None, validator=_check_send_timeout)


@attrs.frozen(unsafe_hash=False)
class ProviderConfig:
    """One ``[providers.NAME]`` table, split into the provider's settings and ours.

    ``type`` is the provider type the table's ``type`` key names, ``None`` when
    the key is absent (the instance is then of the type its table is named after,
    so files written before instances existed mean what they always meant).
    """

    settings: dict[str, Any] = attrs.field(factory=dict)
    retry: RetryPolicy | None = None
    rate_limit: RateLimit | None = None
    type: str | None = None

    @property
    def assembly_settings(self) -> dict[str, Any]:
        """The settings table as the plugin assembly takes it: ``type`` back in when set."""
        if self.type is None:
            return dict(self.settings)
        return {"type": self.type, **self.settings}


def _check_concurrency(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not 1 <= value <= 256):
        raise ValidationError(
            f"{attribute.name} must be a whole number from 1 to 256, got {value!r}",
            field=attribute.name,
        )


@attrs.frozen
class BroadcastConfig:
    """``[broadcast]``: what ``broadcastio broadcast`` and ``worker`` use when not told.

    ``journal`` is a journal path or URL (``sqlite:///PATH``,
    ``postgresql://USER:PASSWORD@HOST/DB``; ``${VAR}`` keeps the password out
    of the file), ``concurrency`` the sends in flight at once (1 to 256),
    ``queue`` the Redis URL of distributed runs. Each is ``None`` when unset;
    the command's option, then ``$BROADCASTIO_JOURNAL`` for the journal, win
    over the file. The journal's scheme and the queue's URL are checked by the
    command that uses them (the layers that know them), naming this table.
    """

    journal: str | None = None
    concurrency: int | None = attrs.field(default=None, validator=_check_concurrency)
    queue: str | None = None


def redact_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``REDACTED``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@/]*@", rf"\1{REDACTED}@", url)
    credentials, at, host = parts.netloc.rpartition("@")
    if not at or ":" not in credentials:
        return url
    netloc = f"{credentials.split(':', 1)[0]}:{REDACTED}@{host}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@attrs.frozen(unsafe_hash=False)
class BroadcastioConfig:
    """A whole configuration: where it came from, the orchestrator and the providers.

    Build one with ``load_config`` (or ``parse_config`` for a dict), then an
    orchestrator with ``Orchestrator.from_config`` or ``build_orchestrator``.
    """

    source: ConfigLocation = ConfigLocation(None, "defaults")
    orchestrator: OrchestratorConfig = OrchestratorConfig()
    providers: dict[str, ProviderConfig] = attrs.field(factory=dict)
    broadcast: BroadcastConfig = BroadcastConfig()

    @property
    def retry_policies(self) -> dict[str, RetryPolicy]:
        """The per-provider retry policies the file sets."""
        return {name: p.retry for name, p in self.providers.items() if p.retry is not None}

    @property
    def rate_limits(self) -> dict[str, RateLimit]:
        """The per-provider rate limits the file sets."""
        return {
            name: p.rate_limit for name, p in self.providers.items() if p.rate_limit is not None
        }

    def to_dict(self, *, redact_secrets: bool = True) -> dict[str, Any]:
        """The configuration as plain data (what ``broadcastio config --json`` prints)."""
        providers = {}
        for name, provider in sorted(self.providers.items()):
            table: dict[str, Any] = {}
            if provider.type is not None:
                table["type"] = provider.type
            table.update(converter.unstructure(provider.settings))
            if provider.retry is not None:
                table["retry"] = converter.unstructure(provider.retry)
            if provider.rate_limit is not None:
                table["rate_limit"] = str(provider.rate_limit)
            providers[name] = table
        data = {
            "source": {
                "path": None if self.source.path is None else str(self.source.path),
                "origin": self.source.origin,
            },
            "orchestrator": converter.unstructure(self.orchestrator),
            "providers": providers,
        }
        table = {k: v for k, v in converter.unstructure(self.broadcast).items() if v is not None}
        if table:
            for name in ("journal", "queue"):
                if redact_secrets and isinstance(table.get(name), str):
                    table[name] = redact_url(table[name])
            data["broadcast"] = table
        return redact(data) if redact_secrets else data


def redact(value: Any) -> Any:
    """``value`` with every secret-looking key's value replaced by ``REDACTED``."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEY.search(key) and item not in (None, "")
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value

"""The configuration file shared by the command line and ``Orchestrator.from_config``."""

from __future__ import annotations

from broadcastio.config.build import (
    build_orchestrator,
    orchestrator_from_config,
    resolved_providers,
)
from broadcastio.config.load import load_config, parse_config
from broadcastio.config.locate import CONFIG_ENV, ConfigLocation, find_config, user_config_path
from broadcastio.config.model import (
    BroadcastioConfig,
    OrchestratorConfig,
    ProviderConfig,
    redact,
)

__all__ = [
    "CONFIG_ENV",
    "BroadcastioConfig",
    "ConfigLocation",
    "OrchestratorConfig",
    "ProviderConfig",
    "build_orchestrator",
    "orchestrator_from_config",
    "find_config",
    "load_config",
    "parse_config",
    "redact",
    "resolved_providers",
    "user_config_path",
]

"""Where the configuration file is: the one lookup order shared by the CLI and the API.

First match wins: an explicit path (``--config`` / ``from_config(path)``), then
``$BROADCASTIO_CONFIG``, then ``./broadcastio.toml``, then the user config
directory (``~/.config/broadcastio/config.toml`` on Linux, honouring
``$XDG_CONFIG_HOME``; the platform's equivalent elsewhere). A path the user named
explicitly must exist; the two implicit places are simply skipped when absent,
and no file at all means defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import attrs

from broadcastio.errors import ConfigurationError

__all__ = ["CONFIG_ENV", "ConfigLocation", "find_config", "user_config_path"]

CONFIG_ENV = "BROADCASTIO_CONFIG"
LOCAL_NAME = "broadcastio.toml"


@attrs.frozen
class ConfigLocation:
    """The file chosen (``None``: no file, defaults apply) and why it was chosen."""

    path: Path | None
    origin: str


def user_config_path() -> Path:
    """The per-user configuration file for this platform."""
    # click knows each platform's convention (XDG on Linux, Application Support
    # on macOS, %APPDATA% on Windows); imported here so the library's import
    # stays light.
    import click

    return Path(click.get_app_dir("broadcastio")) / "config.toml"


def find_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ConfigLocation:
    """Pick the configuration file by the documented lookup order."""
    environ = os.environ if environ is None else environ
    if not isinstance(environ, Mapping):
        raise ConfigurationError(
            f"environ must be a mapping of variable names to values, got {type(environ).__name__}"
        )
    if explicit is not None and not isinstance(explicit, (str, os.PathLike)):
        raise ConfigurationError(
            f"the configuration path must be a str or a path, got {type(explicit).__name__}"
        )
    if explicit is not None:
        return ConfigLocation(_must_exist(Path(explicit), "the configuration file"), "--config")
    from_env = environ.get(CONFIG_ENV)
    if from_env:
        path = _must_exist(Path(from_env), f"${CONFIG_ENV}")
        return ConfigLocation(path, f"${CONFIG_ENV}")
    local = (cwd if cwd is not None else Path.cwd()) / LOCAL_NAME
    if local.is_file():
        return ConfigLocation(local, f"./{LOCAL_NAME}")
    user = user_config_path()
    if user.is_file():
        return ConfigLocation(user, "user config directory")
    return ConfigLocation(None, "defaults (no configuration file found)")


def _must_exist(path: Path, label: str) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise ConfigurationError(f"{label} {str(path)!r} does not exist")
    if not path.is_file():
        raise ConfigurationError(f"{label} {str(path)!r} is not a file")
    return path

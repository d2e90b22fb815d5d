"""The lookup order: --config, $BROADCASTIO_CONFIG, ./broadcastio.toml, user config dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from broadcastio import ConfigurationError
from broadcastio.config import find_config, load_config, user_config_path


@pytest.fixture
def everywhere(tmp_path: Path, write_config: Callable[..., Path]) -> dict[str, Path]:
    """A config file in each of the four places, each with a different health_ttl."""
    user = user_config_path()
    user.parent.mkdir(parents=True)
    user.write_text("[orchestrator]\nhealth_ttl = 4\n")
    return {
        "explicit": write_config("[orchestrator]\nhealth_ttl = 1\n", "explicit.toml"),
        "env": write_config("[orchestrator]\nhealth_ttl = 2\n", "env.toml"),
        "local": write_config("[orchestrator]\nhealth_ttl = 3\n"),
        "user": user,
    }


def test_user_config_dir_follows_xdg(tmp_path: Path) -> None:
    assert user_config_path() == tmp_path / "xdg" / "broadcastio" / "config.toml"


def test_precedence(everywhere: dict[str, Path]) -> None:
    environ = {"BROADCASTIO_CONFIG": str(everywhere["env"])}
    assert load_config(everywhere["explicit"], environ=environ).orchestrator.health_ttl == 1
    assert load_config(environ=environ).orchestrator.health_ttl == 2
    assert load_config(environ={}).orchestrator.health_ttl == 3
    everywhere["local"].unlink()
    assert load_config(environ={}).orchestrator.health_ttl == 4
    everywhere["user"].unlink()
    location = find_config(environ={})
    assert location.path is None
    assert load_config(environ={}).orchestrator.health_ttl == 30


def test_origin_is_reported(everywhere: dict[str, Path]) -> None:
    assert find_config(everywhere["explicit"]).origin == "--config"
    env = {"BROADCASTIO_CONFIG": str(everywhere["env"])}
    assert find_config(environ=env).origin == "$BROADCASTIO_CONFIG"
    assert find_config(environ={}).origin == "./broadcastio.toml"


def test_empty_env_var_is_ignored(everywhere: dict[str, Path]) -> None:
    assert find_config(environ={"BROADCASTIO_CONFIG": ""}).path == everywhere["local"]


@pytest.mark.parametrize("where", ["explicit", "env"])
def test_a_named_file_must_exist(tmp_path: Path, where: str) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigurationError, match="nope.toml' does not exist"):
        if where == "explicit":
            find_config(missing, environ={})
        else:
            find_config(environ={"BROADCASTIO_CONFIG": str(missing)})


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a file"):
        find_config(tmp_path, environ={})


def test_arguments_of_the_wrong_kind_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="must be a str or a path, got int"):
        find_config(123)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="environ must be a mapping"):
        load_config(environ=5)  # type: ignore[arg-type]

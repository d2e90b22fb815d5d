"""Configuration errors carry their key path, problem and file as fields, set by each layer.

The wording users read is tested elsewhere (tests/cli/test_settings_bounds.py and
friends); here the fields are, and the cases where reading a sentence back would
put the problem at the wrong key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from broadcastio import (
    ConfigurationError,
    DeliveryResult,
    Message,
    MessageProvider,
    ProviderHealth,
    ValidationError,
    hookimpl,
)
from broadcastio.cli.state import CliState
from broadcastio.config import build_orchestrator, load_config
from broadcastio.plugins.manager import PluginManager


@attrs.frozen
class RelaySettings:
    """Two fields whose names the checks' sentences mention in the wrong order."""

    sender: str = "ops"
    reply_to: str = "desk"
    signature: str = "--"

    def __attrs_post_init__(self) -> None:
        if self.sender == self.reply_to:
            # About both fields: no single key is right.
            raise ValidationError(f"sender and reply_to must differ, both are {self.sender!r}")
        if self.signature.startswith(" "):
            # Starts with another field's name and holds ": "; concerns signature.
            raise ValidationError(
                f"sender: {self.sender!r} signs with a blank first: {self.signature!r}",
                field="signature",
            )


class RelayProvider(MessageProvider):
    name = "relay"
    settings_type: ClassVar[type[Any] | None] = RelaySettings

    def __init__(self, settings: RelaySettings) -> None:
        if len(settings.signature) > 10:
            raise ValidationError(
                f"the signature is too long: {len(settings.signature)} characters, at most 10",
                field="signature",
            )
        self.settings = settings

    def send(self, message: Message) -> DeliveryResult:  # pragma: no cover - never sent
        raise NotImplementedError

    def health(self) -> ProviderHealth:  # pragma: no cover - never asked
        raise NotImplementedError


class RelayPlugin:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register(RelayProvider)


@pytest.fixture
def manager() -> Iterator[PluginManager]:
    manager = PluginManager()
    manager.register(RelayPlugin(), name="relay-plugin")
    try:
        yield manager
    finally:
        manager.unregister(name="relay-plugin")


ENVIRON = {"BROADCASTIO_LOAD_PLUGINS": ""}


def build_error(path: Path, manager: PluginManager, **arguments: Any) -> ConfigurationError:
    config = load_config(path, environ=ENVIRON)
    with pytest.raises(ConfigurationError) as caught:
        build_orchestrator(config, environ=ENVIRON, plugin_manager=manager, **arguments)
    return caught.value


def test_a_problem_naming_two_fields_is_placed_at_the_provider(
    write_config: Callable[..., Path], manager: PluginManager
) -> None:
    """Not at ``sender``, the field its sentence happens to start with."""
    path = write_config("[providers.relay]\nsender = 'a'\nreply_to = 'a'\n")
    error = build_error(path, manager)
    (problem,) = error.problems
    assert problem.key_path == ("providers", "relay")
    assert error.source == str(path)
    assert error.message == (
        f"{path}: providers.relay: sender and reply_to must differ, both are 'a'"
    )


def test_a_check_is_placed_at_the_field_it_names_whatever_its_wording(
    write_config: Callable[..., Path], manager: PluginManager
) -> None:
    path = write_config("[providers.relay]\nsignature = ' x'\n")
    error = build_error(path, manager)
    (problem,) = error.problems
    assert problem.key_path == ("providers", "relay", "signature")
    assert problem.problem == "sender: 'ops' signs with a blank first: ' x'"
    assert error.message == (
        f"{path}: providers.relay.signature: sender: 'ops' signs with a blank first: ' x'"
    )


def test_a_constructors_error_is_placed_at_the_field_it_names(
    write_config: Callable[..., Path], manager: PluginManager
) -> None:
    path = write_config("[providers.relay]\nsignature = '-- the desk --'\n")
    error = build_error(path, manager)
    assert error.key_path == ("providers", "relay", "signature")
    assert error.problem == (
        "provider 'relay' rejected its settings: "
        "the signature is too long: 14 characters, at most 10"
    )
    assert error.message == f"{path}: providers.relay.signature: {error.problem}"


def test_an_order_from_the_caller_is_at_order_and_from_the_file_at_orchestrator_order(
    write_config: Callable[..., Path], manager: PluginManager
) -> None:
    path = write_config("[orchestrator]\norder = ['relay', 'relay']\n")
    from_file = build_error(path, manager)
    assert from_file.key_path == ("orchestrator", "order")
    assert from_file.source == str(path)
    assert from_file.message == (
        f"{path}: orchestrator.order: provider 'relay' is listed twice in order"
    )
    from_caller = build_error(path, manager, order=["order: nope"])
    assert from_caller.key_path == ("order",) and from_caller.source is None
    assert from_caller.problem.startswith("unknown provider 'order: nope'; available providers: ")


def test_the_command_line_names_its_option_for_the_order(
    write_config: Callable[..., Path],
) -> None:
    write_config("")
    with pytest.raises(ConfigurationError) as caught:
        CliState().build_orchestrator(["order: nope"])
    assert caught.value.key_path == ("--provider",)
    assert caught.value.message.startswith("--provider: unknown provider 'order: nope'; ")


def test_tables_for_unknown_providers_are_one_problem_each(
    write_config: Callable[..., Path], manager: PluginManager
) -> None:
    path = write_config("[providers.relay]\n[providers.fax]\n[providers.telex]\n")
    error = build_error(path, manager)
    assert [problem.key_path for problem in error.problems] == [
        ("providers", "fax"),
        ("providers", "telex"),
    ]
    assert error.message.startswith(f"{path}: providers.fax: no installed plugin provides 'fax'")


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("[orchestrator]\norder = ['a', 1]", ("orchestrator", "order", 1)),
        ("[orchestrator.retry]\nmax_attempts = 0", ("orchestrator", "retry", "max_attempts")),
        ("[providers.relay]\nsender = ['${UNSET}']", ("providers", "relay", "sender", 0)),
        ("[providers.relay]\nrate_limit = 'often: very'", ("providers", "relay", "rate_limit")),
        ("[orchestrator]\nhealth_ttl = -1", ("orchestrator", "health_ttl")),
        ("[orchestrator]\nhelth_ttl = 1", ("orchestrator", "helth_ttl")),
    ],
)
def test_file_errors_carry_the_key_path_as_a_tuple(
    write_config: Callable[..., Path], text: str, key_path: tuple[str | int, ...]
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})
    error = caught.value
    assert error.key_path == key_path
    assert error.source == str(path)
    assert error.message == f"{path}: {error.details['key']}: {error.problem}"


def test_unreadable_toml_names_the_file_and_no_key(write_config: Callable[..., Path]) -> None:
    path = write_config("[orchestrator\n")
    with pytest.raises(ConfigurationError) as caught:
        load_config(path, environ={})
    assert caught.value.source == str(path) and caught.value.key_path == ()
    assert caught.value.problem.startswith("invalid TOML: ")

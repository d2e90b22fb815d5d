"""Every numeric WhatsApp setting has a documented range, checked before anything runs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import ConfigurationError, Orchestrator, ValidationError
from broadcastio_whatsapp import WhatsAppSettings

# (setting, highest allowed, how the error words the range); all must be > 0
SECONDS = [
    ("timeout (connect)", 300, "must be > 0 and <= 300"),
    ("timeout (read)", 3600, "must be > 0 and <= 3600"),
    ("health_timeout", 300, "must be > 0 and <= 300"),
]


def settings_with(name: str, value: float) -> WhatsAppSettings:
    if name == "timeout (connect)":
        return WhatsAppSettings(timeout=(value, 10))
    if name == "timeout (read)":
        return WhatsAppSettings(timeout=(1, value))
    return WhatsAppSettings(**{name: value})


@pytest.mark.parametrize(("name", "highest", "wording"), SECONDS)
@given(data=st.data())
def test_seconds_inside_the_range_are_accepted(name, highest, wording, data) -> None:
    value = data.draw(st.floats(min_value=0, max_value=highest, exclude_min=True))
    settings_with(name, value)


@pytest.mark.parametrize(("name", "highest", "wording"), SECONDS)
@given(data=st.data())
def test_seconds_outside_the_range_name_field_and_range(name, highest, wording, data) -> None:
    value = data.draw(
        st.one_of(
            st.floats(max_value=0, allow_nan=False, allow_infinity=False),
            st.floats(min_value=highest, exclude_min=True, allow_nan=False, allow_infinity=False),
            st.integers(min_value=highest + 1),
        )
    )
    with pytest.raises(ValidationError, match=rf"^{name.replace('(', '.').replace(')', '.')} "):
        try:
            settings_with(name, value)
        except ValidationError as error:
            assert wording in error.message
            raise


@given(st.integers(min_value=1, max_value=1000))
def test_pool_sizes_in_range_are_accepted(size: int) -> None:
    assert WhatsAppSettings(pool_size=size).pool_size == size


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=1001)))
def test_pool_sizes_out_of_range_name_field_and_range(size: int) -> None:
    with pytest.raises(ValidationError) as caught:
        WhatsAppSettings(pool_size=size)
    assert caught.value.message.startswith("pool_size must be between 1 and 1000, got ")


def test_the_pool_size_that_ate_700_mb_is_refused_at_load() -> None:
    # Before the bound, this passed every check and hung the first send.
    with pytest.raises(ConfigurationError, match="pool_size must be between 1 and 1000"):
        Orchestrator.from_plugins(["whatsapp"], settings={"whatsapp": {"pool_size": 100000000}})


def test_config_file_errors_name_the_key(tmp_path, monkeypatch) -> None:
    from broadcastio.config import build_orchestrator, load_config

    path = tmp_path / "broadcastio.toml"
    path.write_text(
        '[orchestrator]\norder = ["whatsapp"]\n\n[providers.whatsapp]\ntimeout = [5, 7200]\n'
    )
    with pytest.raises(ConfigurationError) as caught:
        build_orchestrator(load_config(path))
    assert "providers.whatsapp.timeout: timeout (read) must be > 0 and <= 3600" in str(caught.value)


def test_the_default_read_timeout_outlasts_the_bridge_send_timeout() -> None:
    """The default is tied to the bridge's own default, read from the bridge's code."""
    import shutil
    import subprocess
    from pathlib import Path

    from broadcastio_whatsapp.settings import BRIDGE_SEND_TIMEOUT, READ_TIMEOUT_MARGIN

    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH")
    bridge_dir = Path(__file__).resolve().parents[2] / "node-bridge"
    printed = subprocess.run(
        [
            node,
            "-e",
            "const { loadConfig } = require('./src/config');"
            "console.log(loadConfig({ BRIDGE_DRIVER: 'fake' }).sendTimeoutMs)",
        ],
        cwd=bridge_dir,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    assert int(printed) / 1000 == BRIDGE_SEND_TIMEOUT
    assert WhatsAppSettings().timeout == (5.0, BRIDGE_SEND_TIMEOUT + READ_TIMEOUT_MARGIN)
    assert READ_TIMEOUT_MARGIN > 0

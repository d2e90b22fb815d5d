"""Fixtures for the command line: a sealed environment, config files, and two ways to run.

``invoke`` runs the CLI in-process through click's ``CliRunner`` (fast; for
arguments, output and exit codes); ``run_script`` runs the installed
``broadcastio`` console script as a real process (for the stdout/stderr split,
signals and start-up cost). Both see only the environment set up here: no
developer configuration file, plugin filter or WhatsApp variable leaks in.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import broadcastio.config as config_package
from broadcastio.cli.main import cli

SCRIPT = Path(sys.executable).with_name("broadcastio")
LEAKY_PREFIXES = ("BROADCASTIO_", "_BROADCASTIO_")


@pytest.fixture(autouse=True)
def sealed_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """cwd is an empty tmp dir, the user config dir is empty, no BROADCASTIO_* variable set."""
    for name in list(os.environ):
        if name.startswith(LEAKY_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the user config dir off Linux
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a TOML configuration (dedented) and return its path."""

    def write(text: str, name: str = "broadcastio.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def dummy_config(write_config: Callable[..., Path]) -> Callable[..., Path]:
    """A configuration whose chain is the dummy alone, with these dummy settings."""

    def write(name: str = "dummy.toml", **settings: Any) -> Path:
        lines = ['[orchestrator]', 'order = ["dummy"]', "", "[providers.dummy]"]
        lines += [f"{key} = {toml(value)}" for key, value in settings.items()]
        return write_config("\n".join(lines) + "\n", name)

    return write


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run ``broadcastio ARGS`` in-process; stdout and stderr stay apart."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return run


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The orchestrators commands build, to look at what the dummy received."""
    made: list[Any] = []
    real = config_package.build_orchestrator

    def spy(*args: Any, **kwargs: Any) -> Any:
        orchestrator = real(*args, **kwargs)
        made.append(orchestrator)
        return orchestrator

    # Commands import build_orchestrator when they run, so patching the package works.
    monkeypatch.setattr(config_package, "build_orchestrator", spy)
    return made


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _make_distribution(
    root: Path, name: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """A distribution importlib.metadata finds once ``root`` is on the path."""
    dist_info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = ["[broadcastio]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def make_distribution() -> Iterator[Callable[..., Path]]:
    """``make_distribution`` for one test: the modules it creates are forgotten afterwards."""
    modules: list[str] = []

    def make(
        root: Path, name: str, entry_points: dict[str, str], modules_source: dict[str, str]
    ) -> Path:
        modules.extend(modules_source)
        return _make_distribution(root, name, entry_points, modules_source)

    yield make
    for module in modules:
        sys.modules.pop(module, None)


BROKEN_MODULE = "raise ImportError('the SDK broadcastio_broken needs is not installed')\n"


@pytest.fixture
def broken_plugin_path(tmp_path: Path) -> Path:
    """A directory holding a plugin distribution whose entry point fails to import."""
    return _make_distribution(
        tmp_path / "site",
        "broadcastio-broken",
        {"broken": "broadcastio_broken"},
        {"broadcastio_broken": BROKEN_MODULE},
    )


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """The environment for a ``broadcastio`` subprocess: sealed like the in-process one."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES)}
    environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    environ["HOME"] = str(tmp_path / "home")
    environ.pop("PYTHONPATH", None)
    return environ


@pytest.fixture
def script() -> Path:
    """The installed ``broadcastio`` console script of the Python running the tests."""
    if not SCRIPT.is_file():
        pytest.fail(f"{SCRIPT} is missing: run `pip install -e .` in the project")
    return SCRIPT


@pytest.fixture
def run_script(
    tmp_path: Path, script: Path, script_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed console script in ``tmp_path`` and capture stdout and stderr apart."""

    def run(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**script_env, **(env or {})},
            timeout=60,
        )

    return run


@pytest.fixture
def start_script(
    tmp_path: Path, script: Path, script_env: dict[str, str]
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start the console script in the background, ready to hear a real Ctrl-C (SIGINT).

    A shell's background job ignores SIGINT, and an ignored signal stays ignored
    across exec; a handled one is reset to the default. So while starting the
    child this process handles SIGINT: the child then hears Ctrl-C whatever
    started the test run. Children still running at the end are killed.
    """
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            process = subprocess.Popen(
                [str(script), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
                env=script_env,
            )
        finally:
            signal.signal(signal.SIGINT, previous)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()

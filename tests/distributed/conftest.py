"""Fixtures for distributed broadcasts: a real Redis, real worker processes, the CLI.

The servers are real processes from Debian's packages (``redis-server``,
``postgresql``), started on loopback on free ports in temporary directories
(scripts/local_redis.py, scripts/local_postgres.py, shared with bench/). When
a binary or the ``dramatiq``/``postgres`` extras are missing the tests that
need them are skipped with a line saying how to get them, except under
``CI=true``, where a missing server is a failure: CI must run these tests,
never pass by skipping them.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# local_redis / local_postgres / local_http / local_bridge live in scripts/.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
sys.path.insert(0, str(Path(__file__).parent))

from distributed_helpers import SCRIPT, Processes  # noqa: E402

import local_postgres  # noqa: E402
import local_redis  # noqa: E402

LEAKY_PREFIXES = ("BROADCASTIO_", "_BROADCASTIO_")
_databases = itertools.count(1)


def missing(reason: str) -> None:
    """Skip loudly, or fail under ``CI=true``: these tests must run in CI."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}; .ci/run installs it, so this is a broken set-up")
    pytest.skip(f"NOT RUN (distributed tests): {reason}")


def require_extra(*modules: str) -> None:
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing(
                f"the Python package {module} is not installed: "
                "pip install -e '.[test,dramatiq,postgres]' (make test does)"
            )


@pytest.fixture(scope="session")
def redis_server() -> Iterator[local_redis.RedisServer]:
    """One password-protected redis-server for the session; each test flushes it."""
    reason = local_redis.why_unavailable()
    if reason is not None:
        missing(reason)
    require_extra("dramatiq", "redis")
    server = local_redis.RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: local_redis.RedisServer) -> Iterator[str]:
    """The session server's URL, emptied before the test (no queue left by another)."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[local_postgres.PostgresServer]:
    reason = local_postgres.why_unavailable()
    if reason is not None:
        missing(reason)
    require_extra("psycopg")
    server = local_postgres.PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=("sqlite", "postgresql"))
def journal_arg(request: Any, tmp_path: Path) -> Iterator[str]:
    """``--journal`` for a distributed run, on each backend: a file in the test's folder
    (relative, as the processes run there), or a fresh database on the session's server."""
    if request.param == "sqlite":
        yield "journal.sqlite"
        return
    import psycopg

    server: local_postgres.PostgresServer = request.getfixturevalue("postgres_server")
    name = f"distributed_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield server.dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``broadcastio`` process: no developer configuration leaks in."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_PREFIXES)}
    environ["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    environ["XDG_STATE_HOME"] = str(tmp_path / "state")
    environ["HOME"] = str(tmp_path / "home")
    environ.pop("PYTHONPATH", None)
    return environ


@pytest.fixture
def run_cli(
    tmp_path: Path, script_env: dict[str, str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``broadcastio`` in ``tmp_path``; stdout and stderr captured apart."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *args],
            input="",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=script_env,
            timeout=timeout,
        )

    return run


@pytest.fixture
def processes(tmp_path: Path, script_env: dict[str, str]) -> Iterator[Processes]:
    started = Processes(tmp_path, script_env)
    try:
        yield started
    finally:
        started.stop_all()

"""One journal per test on each backend: an SQLite file, or a fresh PostgreSQL database.

``journal_url`` (a pytest fixture, registered by the conftest files that
import it) is parametrized over the backends, so a test that takes it runs
once on SQLite and once on PostgreSQL: one suite for one contract. The
PostgreSQL server is real (scripts/local_postgres.py, Debian's binaries), one
per session, with a new database per test, dropped afterwards. When it cannot
run, the PostgreSQL half is skipped with a line saying how to get it, except
under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import local_postgres  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
_numbers = itertools.count(1)


def missing(reason: str) -> None:
    """Skip loudly, or fail under ``CI=true``: CI must run the PostgreSQL tests."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}; .ci/run installs it, so this is a broken set-up")
    pytest.skip(f"NOT RUN (PostgreSQL journal): {reason}")


@pytest.fixture(scope="session")
def journal_postgres() -> Iterator[local_postgres.PostgresServer]:
    """The session's PostgreSQL server for journals."""
    reason = local_postgres.why_unavailable()
    if reason is not None:
        missing(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg is not installed: pip install -e '.[test,postgres]' (make test does)")
    server = local_postgres.PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


def _database(server: local_postgres.PostgresServer, name: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.format(name=name))


@pytest.fixture(params=BACKENDS)
def journal_url(request: Any, tmp_path: Path) -> Iterator[str]:
    """A journal that does not exist yet: a file path, or the URL of an empty database."""
    if request.param == "sqlite":
        yield str(tmp_path / "journal.sqlite")
        return
    server: local_postgres.PostgresServer = request.getfixturevalue("journal_postgres")
    name = f"journal_{os.getpid()}_{next(_numbers)}"
    _database(server, name, "CREATE DATABASE {name}")
    try:
        yield server.dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        _database(server, name, "DROP DATABASE IF EXISTS {name} WITH (FORCE)")

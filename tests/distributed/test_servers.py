"""The test servers themselves: Redis with a password, PostgreSQL as an unprivileged user."""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from pathlib import Path

import local_postgres
import local_redis
import pytest


def test_redis_requires_its_password(redis_server: local_redis.RedisServer) -> None:
    import redis

    assert redis.Redis.from_url(redis_server.url).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.url_with_password("not-the-password")).ping()
    with pytest.raises((redis.AuthenticationError, redis.ResponseError)):
        redis.Redis.from_url(redis_server.url_without_password).ping()


def test_postgres_accepts_a_psycopg_connection(
    postgres_server: local_postgres.PostgresServer,
) -> None:
    import psycopg

    with psycopg.connect(postgres_server.dsn) as connection:
        connection.execute("CREATE TABLE probe (id integer PRIMARY KEY, text text NOT NULL)")
        connection.execute("INSERT INTO probe VALUES (1, 'hello')")
        assert connection.execute("SELECT text FROM probe").fetchone() == ("hello",)
        user = connection.execute("SELECT current_user").fetchone()
    assert user == (local_postgres.SUPERUSER,)


def test_postgres_refuses_a_wrong_password(
    postgres_server: local_postgres.PostgresServer,
) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres_server.dsn_with_password("not-the-password"))


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="only as root does local_postgres create and use a service user"
)


@needs_root
def test_a_service_user_created_meanwhile_by_another_process_is_used(
    postgres_server: local_postgres.PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session's server has created the user; this process's lookup "misses" it,
    # as a parallel session's lookup does just before the other one's useradd.
    real_lookup = local_postgres.pwd.getpwnam
    calls: list[str] = []

    def missed_once(name: str) -> pwd.struct_passwd:
        calls.append(name)
        if len(calls) == 1:
            raise KeyError(name)
        return real_lookup(name)

    monkeypatch.setattr(local_postgres.pwd, "getpwnam", missed_once)
    entry = real_lookup(local_postgres.SERVICE_USER)
    assert local_postgres._service_account() == (entry.pw_uid, entry.pw_gid)
    assert len(calls) == 2


@needs_root
def test_a_private_tmpdir_and_the_password_file_never_readable_by_others(
    postgres_server: local_postgres.PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private = tmp_path / "private-tmp"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    modes: dict[str, int] = {}
    real_chown = local_postgres.os.chown

    def chown(path: str | os.PathLike[str], uid: int, gid: int) -> None:
        modes[Path(path).name] = stat.S_IMODE(os.stat(path).st_mode)
        real_chown(path, uid, gid)

    monkeypatch.setattr(local_postgres.os, "chown", chown)
    with local_postgres.PostgresServer() as server:
        import psycopg

        with psycopg.connect(server.dsn) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
    assert modes["password"] == 0o600

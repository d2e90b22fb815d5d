"""The test servers themselves: Redis with a password, PostgreSQL as an unprivileged user."""

from __future__ import annotations

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

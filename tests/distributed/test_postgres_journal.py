"""The PostgreSQL journal from the command line: runs, reads, resumes, settings, bad URLs.

Real processes (the installed ``broadcastio``), a real PostgreSQL server
(``postgres_server``, a fresh database per test through ``journal_arg``'s
sibling fixture below) and a real HTTP receiver with the webhook provider, so
"nothing was sent" is read where messages would arrive.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed_helpers import Processes, write_recipients
from local_http import HttpServer

import local_postgres

_numbers = itertools.count(1)


@pytest.fixture
def database(postgres_server: local_postgres.PostgresServer) -> Iterator[str]:
    """The URL (with its password) of an empty database on the session's server."""
    import psycopg

    name = f"cli_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_server.dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def receiver() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


def webhook_config(tmp_path: Path, receiver: HttpServer, extra: str = "") -> Path:
    path = tmp_path / "hook.toml"
    path.write_text(
        '[orchestrator]\norder = ["hook"]\n\n'
        f'[providers.hook]\ntype = "webhook"\nurl = "{receiver.url}/hook"\n\n{extra}'
    )
    return path


def posts(receiver: HttpServer) -> int:
    return sum(1 for request in receiver.requests if request.method == "POST")


def assert_one_line_error(done, *, names: str, secret: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("broadcastio: error: ")
    assert names in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert secret not in done.stderr and secret not in done.stdout


def test_a_broadcast_journaled_in_postgres_is_read_back_and_resumed(
    tmp_path: Path, database: str, receiver: HttpServer, run_cli
) -> None:
    config = webhook_config(tmp_path, receiver)
    write_recipients(tmp_path / "people.csv", 12)
    done = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "hi",
        "--journal", database, "--id", "pg-run", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["delivered"] == 12
    assert posts(receiver) == 12
    password = database.split(":")[2].split("@")[0]
    assert password not in done.stderr and password not in done.stdout
    listed = run_cli("journal", "list", "--journal", database, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [entry["broadcast_id"] for entry in json.loads(listed.stdout)] == ["pg-run"]
    shown = run_cli("journal", "show", "--journal", database, "pg-run", "--json")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count('"delivered"') >= 12
    # A resume finds every recipient delivered: nothing is sent again.
    again = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "hi",
        "--journal", database, "--resume", "pg-run", "--json",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert posts(receiver) == 12


def test_the_broadcast_table_gives_journal_and_concurrency(
    tmp_path: Path, database: str, receiver: HttpServer, run_cli, script_env: dict[str, str]
) -> None:
    user, rest = database.removeprefix("postgresql://").split(":", 1)
    password, location = rest.split("@", 1)
    # The password stays out of the file: ${VAR} interpolation.
    script_env["PG_JOURNAL_PASSWORD"] = password
    config = webhook_config(
        tmp_path,
        receiver,
        '[broadcast]\njournal = "postgresql://'
        f'{user}:${{PG_JOURNAL_PASSWORD}}@{location}"\nconcurrency = 2\n',
    )
    write_recipients(tmp_path / "people.csv", 5)
    done = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "hi",
        "--id", "from-config", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert posts(receiver) == 5
    assert not (tmp_path / "state").exists()  # not the default journal file
    listed = run_cli("--config", str(config), "journal", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [entry["broadcast_id"] for entry in json.loads(listed.stdout)] == ["from-config"]
    shown = run_cli("--config", str(config), "config", "--json")
    assert json.loads(shown.stdout)["broadcast"] == {
        "journal": f"postgresql://{user}:***@{location}",
        "concurrency": 2,
    }


def test_an_unknown_scheme_in_the_broadcast_table_names_the_key(
    tmp_path: Path, receiver: HttpServer, run_cli
) -> None:
    config = webhook_config(
        tmp_path, receiver, '[broadcast]\njournal = "mysql://ops:tablesecret@db/x"\n'
    )
    write_recipients(tmp_path / "people.csv", 3)
    done = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "hi",
    )  # fmt: skip
    assert_one_line_error(done, names="broadcast.journal", secret="tablesecret")
    assert "unknown scheme 'mysql'" in done.stderr
    assert posts(receiver) == 0


@pytest.mark.parametrize("problem", ["wrong password", "unreachable", "unknown scheme"])
def test_a_bad_journal_url_is_one_line_exit_2_and_sends_nothing(
    tmp_path: Path,
    postgres_server: local_postgres.PostgresServer,
    receiver: HttpServer,
    run_cli,
    closed_port: int,
    problem: str,
) -> None:
    secret = "not-the-password-4f1c"
    if problem == "wrong password":
        url = postgres_server.dsn_with_password(secret)
        names = "postgresql://broadcastio:***@127.0.0.1"
    elif problem == "unreachable":
        url = f"postgresql://ops:{secret}@127.0.0.1:{closed_port}/journal"
        names = f"postgresql://ops:***@127.0.0.1:{closed_port}/journal"
    else:
        url = f"cockroach://ops:{secret}@127.0.0.1/journal"
        names = "cockroach://ops:***@127.0.0.1/journal"
    config = webhook_config(tmp_path, receiver)
    write_recipients(tmp_path / "people.csv", 3)
    done = run_cli(
        "broadcast", "--config", str(config), "--recipients", "people.csv", "--text", "hi",
        "--journal", url,
    )  # fmt: skip
    assert_one_line_error(done, names=names, secret=secret)
    for command in (("journal", "list"), ("journal", "show", "some-id")):
        read = run_cli(*command, "--journal", url)
        assert_one_line_error(read, names=names, secret=secret)
    assert posts(receiver) == 0


def test_two_workers_deliver_a_queued_broadcast_journaled_in_postgres(
    tmp_path: Path,
    database: str,
    redis_url: str,
    receiver: HttpServer,
    processes: Processes,
    run_cli,
) -> None:
    config = webhook_config(tmp_path, receiver)
    write_recipients(tmp_path / "people.csv", 40)
    for _ in range(2):
        processes.worker(redis_url, config, "--threads", "4", journal=database)
    done = run_cli(
        "broadcast", "--queue", redis_url, "--journal", database, "--config", str(config),
        "--recipients", "people.csv", "--text", "hello {recipient}", "--id", "queued", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + processes.output()
    assert json.loads(done.stdout)["delivered"] == 40
    bodies = [request.body for request in receiver.requests if request.method == "POST"]
    assert len(bodies) == len(set(bodies)) == 40  # each recipient once


_OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
from broadcastio.broadcast import Journal
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    with Journal(sys.argv[1]):
        print("ok")
except Exception as error:
    print(f"{type(error).__name__}: {error}")
"""


def test_processes_opening_one_new_journal_at_once_all_get_it(
    postgres_server: local_postgres.PostgresServer, tmp_path: Path
) -> None:
    """Regression: a process could be refused with "not a broadcastio journal".

    It looked at the catalog while another process was creating the journal,
    then looked again under the schema lock in the same transaction, whose
    catalog cache still said the version table did not exist. Three
    processes race on a fresh database, ten times (before the fix about
    four races in ten refused one of them).
    """
    import psycopg

    for attempt in range(10):
        name = f"race_{os.getpid()}_{next(_numbers)}"
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        url = postgres_server.dsn.rsplit("/", 1)[0] + "/" + name
        go = tmp_path / f"go-{attempt}"
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT_ONCE, url, str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            # Let every interpreter start and import before any of them opens.
            time.sleep(1.0)
            go.touch()
            outputs = [racer.communicate(timeout=120)[0].strip() for racer in racers]
        finally:
            for racer in racers:
                racer.kill()
            with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        assert outputs == ["ok"] * 3, (attempt, outputs)

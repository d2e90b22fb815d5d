"""examples/distributed: the docker-compose example, checked, and its commands run.

Docker cannot run where these tests run (no daemon, no registry), so the
example is tested in two halves. The files are checked for what a reviewer
would look for (services, pinned images, a required password, nothing
published beyond loopback, health conditions, a Dockerfile that installs what
the configuration needs). Then the worker service's ``command`` and the
``docker compose run`` commands the example's README and docs/scaling.md give
are run on this machine, as written, against a real Redis and a real
PostgreSQL: compose's ``${VAR}`` substitution is done as compose does it, the
service names are replaced by the servers' loopback addresses, and the paths
mounted into the containers by the example's files. What is not tested: that
the images build and that compose itself accepts the file.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from distributed_helpers import SCRIPT, Processes, wait_until

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPOSITORY = Path(__file__).resolve().parents[2]
EXAMPLE = REPOSITORY / "examples" / "distributed"
# The port each server service listens on inside the compose network.
SERVER_PORTS = {"redis": 6379, "postgres": 5432}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
# What the worker's command must say (issue 16): where, and how many.
OPTIONS = ("--queue", "--journal", "--processes", "--threads")
# compose's substitution: $$, ${NAME}, ${NAME:-default}, ${NAME-default},
# ${NAME:?error}, ${NAME?error}, and $NAME.
_VARIABLE = re.compile(
    r"\$(?:(?P<dollar>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>\{))"
)


class MissingVariable(Exception):
    """A ``${NAME:?message}`` (or ``${NAME?message}``) whose variable is not set."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


def substitute(text: str, environ: Mapping[str, str]) -> str:
    """``text`` with its variables replaced from ``environ``, by compose's rules."""

    def replace(match: re.Match[str]) -> str:
        if match["dollar"]:
            return "$"
        if match["invalid"]:
            raise ValueError(f"invalid interpolation format in {text!r}")
        name = match["braced"] or match["bare"]
        value = environ.get(name)
        operator = match["operator"]
        # With a colon, an empty value counts as unset (as in the shell).
        unset = value is None or (value == "" and operator is not None and ":" in operator)
        if operator is not None and operator.endswith("?") and unset:
            raise MissingVariable(name, match["argument"])
        if operator is not None and operator.endswith("-") and unset:
            return match["argument"]
        return value or ""

    return _VARIABLE.sub(replace, text)


def interpolated(tree: Any, environ: Mapping[str, str]) -> Any:
    """Every string value of the parsed file substituted (keys never are, as in compose)."""
    if isinstance(tree, str):
        return substitute(tree, environ)
    if isinstance(tree, list):
        return [interpolated(item, environ) for item in tree]
    if isinstance(tree, dict):
        return {key: interpolated(value, environ) for key, value in tree.items()}
    return tree


def raw_compose() -> dict[str, Any]:
    with (EXAMPLE / "compose.yaml").open() as file:
        loaded: dict[str, Any] = yaml.safe_load(file)
    return loaded


def compose(environ: Mapping[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = interpolated(raw_compose(), environ)
    return loaded


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's ``environment``, in either of compose's two spellings."""
    given = service.get("environment") or {}
    if isinstance(given, list):
        return dict(item.split("=", 1) for item in given)
    return {str(key): str(value) for key, value in given.items()}


def mounts_of(service: Mapping[str, Any]) -> dict[str, tuple[Path, bool]]:
    """A service's bind mounts: container path -> (host path, read-only). Named volumes left out."""
    mounts: dict[str, tuple[Path, bool]] = {}
    for volume in service.get("volumes") or []:
        source, target, *options = volume.split(":")
        if source.startswith((".", "/")):
            mounts[target] = ((EXAMPLE / source).resolve(), "ro" in options)
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (EXAMPLE / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
            pending = ""
    return instructions


def pip_install_arguments() -> list[str]:
    """What the Dockerfile's ``pip install`` installs (one RUN line names them all)."""
    runs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN"]
    installs = [shlex.split(run) for run in runs if " install " in f" {run} "]
    assert len(installs) == 1, f"expected one pip install line, got {installs}"
    words = installs[0]
    return [word for word in words[words.index("install") + 1 :] if not word.startswith("-")]


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: ``*`` stays inside a folder, ``**`` crosses them."""
    parts = re.split(r"(\*\*/?|\*|\?)", pattern)
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(part, re.escape(part)) for part in parts))


def in_build_context(relative: str) -> bool:
    """Whether Dockerfile.dockerignore lets ``relative`` (and so its content) into the context.

    As BuildKit decides: the last pattern matching the path or one of its parent
    folders wins, and ``!`` brings a path back.
    """
    lines = (EXAMPLE / "Dockerfile.dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    path = PurePosixPath(relative)
    candidates = [str(path), *(str(parent) for parent in path.parents if str(parent) != ".")]
    included = True
    for rule in rules:
        negated = rule.startswith("!")
        pattern = os.path.normpath(rule.lstrip("!"))
        if any(_ignore_regex(pattern).fullmatch(candidate) for candidate in candidates):
            included = negated
    return included


def documented_runs(text: str) -> list[list[str]]:
    """Every ``docker compose run`` command line in ``text``, split as the shell would."""
    commands = []
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        if line.strip().startswith("docker compose run "):
            commands.append(shlex.split(line, comments=True))
    return commands


# The file, checked.


def test_the_example_has_its_services() -> None:
    services = raw_compose()["services"]
    assert set(services) == {"redis", "postgres", "worker", "broadcastio"}
    # The command-line service runs only when asked for (`docker compose run`).
    assert services["broadcastio"]["profiles"] == ["cli"]
    assert all("profiles" not in services[name] for name in ("redis", "postgres", "worker"))


def test_images_are_official_and_pinned_to_a_major_version() -> None:
    services = raw_compose()["services"]
    pinned = re.compile(r"(?P<name>[a-z0-9.-]+):(?P<tag>\d+(\.\d+)*(-[a-z0-9]+)*)")
    for name in ("redis", "postgres"):
        image = pinned.fullmatch(services[name]["image"])
        assert image is not None, services[name]["image"]
        assert image["name"] == name  # the official image: no namespace
    bases = [rest.split()[0] for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert bases, "the Dockerfile has no FROM"
    for base in bases:
        image = pinned.fullmatch(base)
        assert image is not None and image["name"] == "python", base


def test_the_database_password_is_required_and_only_in_the_environment() -> None:
    with pytest.raises(MissingVariable) as missing:
        compose({})
    assert missing.value.name == "POSTGRES_PASSWORD"
    raw = raw_compose()["services"]
    assert environment_of(raw["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    services = compose({"POSTGRES_PASSWORD": "s3cret"})["services"]
    assert environment_of(services["postgres"])["POSTGRES_PASSWORD"] == "s3cret"
    for name in ("worker", "broadcastio"):
        assert environment_of(services[name])["PGPASSWORD"] == "s3cret"
    # The secret reaches nothing else: no command line, no URL, no other variable.
    for name, service in services.items():
        environment = environment_of(service)
        secret_holders = {key for key, value in environment.items() if "s3cret" in value}
        assert secret_holders <= {"POSTGRES_PASSWORD", "PGPASSWORD"}, (name, secret_holders)
        for word in [*service.get("command", []), *service.get("entrypoint", [])]:
            assert "s3cret" not in word, (name, word)
            if "://" in word:
                assert urllib.parse.urlsplit(word).password is None, (name, word)
    # Every variable that looks secret is a required reference, never a value.
    for name, service in raw.items():
        for key, value in environment_of(service).items():
            if re.search("PASSWORD|SECRET|TOKEN|KEY", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), (name, key, value)


def test_nothing_is_published_beyond_loopback() -> None:
    for name, service in raw_compose()["services"].items():
        assert service.get("network_mode") != "host", name
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:
                # "[HOST_IP:][HOST_PORT:]CONTAINER_PORT": the address is only there with 3 parts.
                parts = str(port).rsplit(":", 2)
                host_ip = parts[0].strip("[]") if len(parts) == 3 else None
            assert host_ip in LOOPBACK, f"{name} publishes {port!r} beyond loopback"


def test_the_workers_wait_for_healthy_servers_and_read_the_configuration_read_only() -> None:
    services = compose({"POSTGRES_PASSWORD": "x"})["services"]
    for name in ("redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name].get("restart") == "unless-stopped", name
    for name in ("worker", "broadcastio"):
        service = services[name]
        assert service["depends_on"] == {
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }
        config = environment_of(service)["BROADCASTIO_CONFIG"]
        assert mounts_of(service)[config] == ((EXAMPLE / "broadcastio.toml").resolve(), True)
    assert mounts_of(services["broadcastio"])["/data"] == ((EXAMPLE / "data").resolve(), True)


def test_the_worker_command_names_queue_journal_processes_and_threads() -> None:
    worker = compose({"POSTGRES_PASSWORD": "x"})["services"]["worker"]
    command = worker["command"]
    assert command[:2] == ["broadcastio", "worker"]
    options = {name: command[command.index(name) + 1] for name in OPTIONS if name in command}
    assert set(options) == set(OPTIONS), command
    assert urllib.parse.urlsplit(options["--queue"]).hostname == "redis"
    assert urllib.parse.urlsplit(options["--journal"]).hostname == "postgres"
    assert int(options["--processes"]) >= 1 and int(options["--threads"]) >= 1
    assert isinstance(worker["deploy"]["replicas"], int) and worker["deploy"]["replicas"] >= 1
    assert worker["init"] is True  # tini forwards SIGTERM and reaps the worker's children
    # The command line's containers name the same queue and journal, so that the
    # workers accept their messages (a message names its journal by URL).
    cli = environment_of(compose({"POSTGRES_PASSWORD": "x"})["services"]["broadcastio"])
    assert cli["BROADCASTIO_QUEUE"] == options["--queue"]
    assert cli["BROADCASTIO_JOURNAL"] == options["--journal"]


def test_the_dockerfile_installs_what_the_example_needs() -> None:
    worker = raw_compose()["services"]["worker"]
    context = (EXAMPLE / worker["build"]["context"]).resolve()
    assert context == REPOSITORY
    assert (context / worker["build"]["dockerfile"]).resolve() == EXAMPLE / "Dockerfile"
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    copied: list[str] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY" and not rest.startswith("--from"):
            *sources, _destination = shlex.split(rest)
            for source in sources:
                assert (context / source).exists(), f"COPY {source}: not in the repository"
                assert in_build_context(source.rstrip("/")), f"COPY {source}: dockerignored"
                copied.append(source.rstrip("/"))
    # The core's build reads its readme and version file: both must be copied.
    assert project["readme"] in copied and "core" in copied
    provided: set[str] = set()
    for argument in pip_install_arguments():
        path, _, extras = argument.partition("[")
        path = os.path.normpath(path)
        if path == ".":
            named = set(extras.rstrip("]").split(","))
            assert {"dramatiq", "postgres"} <= named
            assert named <= set(project["optional-dependencies"]), named
            continue
        assert path in copied, f"pip installs {path}, which the Dockerfile does not copy"
        plugin = tomllib.loads((REPOSITORY / path / "pyproject.toml").read_text())
        provided |= set(plugin["project"]["entry-points"]["broadcastio"])
    configuration = tomllib.loads((EXAMPLE / "broadcastio.toml").read_text())
    types = {table.get("type", name) for name, table in configuration["providers"].items()}
    assert types <= provided, f"the configuration needs {types}, the image has {provided}"
    users = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")


def test_the_dockerignore_reading_is_right() -> None:
    """The check above is only as good as its reading of the ignore file."""
    assert in_build_context("core/broadcastio/__init__.py")
    assert in_build_context("plugins/broadcastio-dummy/pyproject.toml")
    assert not in_build_context(".venv/bin/python")
    assert not in_build_context("node-bridge/package.json")
    assert not in_build_context("plugins/broadcastio-whatsapp/pyproject.toml")
    assert not in_build_context("core/broadcastio/__pycache__/errors.cpython-311.pyc")


def test_the_docs_give_the_readmes_commands() -> None:
    readme = documented_runs((EXAMPLE / "README.md").read_text())
    assert [command[:5] for command in readme] == [
        ["docker", "compose", "run", "--rm", "broadcastio"]
    ] * 2
    scaling = (REPOSITORY / "docs" / "scaling.md").read_text()
    assert documented_runs(scaling) == readme
    # The worker's command as docs/scaling.md shows it is the compose file's.
    command = compose({"POSTGRES_PASSWORD": "x"})["services"]["worker"]["command"]
    shown = [
        shlex.split(line) for line in scaling.splitlines() if line.startswith("broadcastio worker")
    ]
    assert command in shown


# The commands, run.


@pytest.fixture
def open_redis(redis_server: Any) -> Iterator[Any]:
    """A Redis without a password, as the example's (the session's server has one)."""
    import local_redis

    with local_redis.RedisServer(password="") as server:
        yield server


@pytest.fixture
def broadcasts_database(postgres_server: Any) -> Iterator[Any]:
    """The example's database, ``broadcasts``, on the session's server; its user exists."""
    import psycopg

    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS broadcasts WITH (FORCE)")
        admin.execute("CREATE DATABASE broadcasts")
    try:
        yield postgres_server
    finally:
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS broadcasts WITH (FORCE)")


class Host:
    """What the compose file's containers see, as this machine's processes see it."""

    def __init__(self, addresses: Mapping[str, str], mounts: Mapping[str, tuple[Path, bool]]):
        self.addresses = addresses
        self.mounts = mounts

    def translate(self, word: str) -> str:
        """A URL naming a service gets its loopback address; a mounted path its host file."""
        if "://" in word:
            parts = urllib.parse.urlsplit(word)
            key = f"{parts.hostname}:{parts.port}"
            assert key in self.addresses, f"{word}: not a server of the example"
            credentials = parts.netloc.rpartition("@")[0]
            netloc = f"{credentials}@{self.addresses[key]}" if credentials else self.addresses[key]
            return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        for target, (source, _read_only) in self.mounts.items():
            if word == target or word.startswith(target + "/"):
                return str(source) + word[len(target) :]
        return word

    def environment(self, service: Mapping[str, Any], base: Mapping[str, str]) -> dict[str, str]:
        translated = {key: self.translate(value) for key, value in environment_of(service).items()}
        return {**base, **translated}


def test_the_example_broadcast_is_delivered_by_its_workers_and_reported(
    tmp_path: Path,
    open_redis: Any,
    broadcasts_database: Any,
    script_env: dict[str, str],
) -> None:
    import redis

    services = compose({"POSTGRES_PASSWORD": broadcasts_database.password})["services"]
    addresses = {
        f"redis:{SERVER_PORTS['redis']}": f"127.0.0.1:{open_redis.port}",
        f"postgres:{SERVER_PORTS['postgres']}": f"127.0.0.1:{broadcasts_database.port}",
    }
    worker, cli = services["worker"], services["broadcastio"]
    worker_host = Host(addresses, mounts_of(worker))
    command = [worker_host.translate(word) for word in worker["command"]]
    assert command[0] == "broadcastio"
    processes = Processes(tmp_path, worker_host.environment(worker, script_env))
    cli_host = Host(addresses, mounts_of(cli))
    cli_environment = cli_host.environment(cli, script_env)
    # The URLs carry no password: the processes get the database's from PGPASSWORD.
    journal = cli_environment["BROADCASTIO_JOURNAL"]
    assert urllib.parse.urlsplit(journal).password is None
    runs = documented_runs((EXAMPLE / "README.md").read_text())
    with (EXAMPLE / "data" / "recipients.csv").open() as file:
        recipients = len(list(csv.DictReader(file)))
    try:
        replicas = [
            processes.start(*command[1:], log=f"worker-{replica + 1}.log")
            for replica in range(worker["deploy"]["replicas"])
        ]
        # `docker compose up -d`, then the README's `docker compose ps`: the
        # commands run once every worker process polls the queue. A container
        # that exits is started again, as `restart: unless-stopped` has compose do.
        fleet_size = len(replicas) * int(command[command.index("--processes") + 1])
        restarts = 0

        def fleet_up() -> bool:
            nonlocal restarts
            for position, replica in enumerate(replicas):
                if replica.poll() is not None:
                    assert restarts < 3, f"workers keep exiting:\n{processes.output()}"
                    restarts += 1
                    log = f"worker-{position + 1}-restart-{restarts}.log"
                    replicas[position] = processes.start(*command[1:], log=log)
            with redis.Redis(host="127.0.0.1", port=open_redis.port) as client:
                return len(client.zrange("dramatiq:__heartbeats__", 0, -1)) >= fleet_size

        wait_until(fleet_up, 120, f"{fleet_size} worker processes to poll the queue")
        outputs = []
        for run in runs:
            arguments = [cli_host.translate(word) for word in run[5:]]
            try:
                done = subprocess.run(
                    [str(SCRIPT), *arguments],
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    cwd=tmp_path,
                    env=cli_environment,
                    timeout=180,
                )
            except subprocess.TimeoutExpired as expired:
                pytest.fail(f"{run} did not finish: {expired.stderr!r}\n{processes.output()}")
            assert done.returncode == 0, (run, done.stdout, done.stderr, processes.output())
            outputs.append(done.stdout)
    finally:
        processes.stop_all()
    broadcast_id = runs[0][runs[0].index("--id") + 1]
    assert runs[1][5:] == ["journal", "show", broadcast_id]
    # The submitter's report, then `journal show`'s count per state.
    assert re.search(rf"^\s*delivered\s+{recipients}\s", outputs[0], re.MULTILINE), outputs[0]
    assert f"0 pending, 0 in_flight, {recipients} delivered, 0 failed" in outputs[1], outputs[1]
    shown = subprocess.run(
        [str(SCRIPT), "journal", "show", broadcast_id, "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=cli_environment, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["summary"]["delivered"] == recipients
    assert sum(report["summary"].values()) == recipients
    assert {row["provider"] for row in report["rows"]} == {"announcements"}
    # Each worker container stopped cleanly (SIGTERM, as `docker compose stop`).
    assert all(replica.returncode == 0 for replica in replicas), processes.output()

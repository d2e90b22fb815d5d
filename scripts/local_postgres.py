"""A real PostgreSQL server on loopback for the tests and benchmarks: free port, temp dir.

Not part of any installed package. The cluster is made with Debian's ``initdb``
and run with ``pg_ctl`` in a temporary directory (data, log and the Unix socket
all inside it), listening on 127.0.0.1 on a port the kernel picked, with a
superuser ``broadcastio`` whose password is required (``scram-sha-256``) so a
wrong password is refused as in production.

PostgreSQL refuses to run as root. When this script runs as root (CI and this
project's machines do) it creates an unprivileged system user,
``broadcastio-pg``, once, and runs ``initdb``, ``pg_ctl`` and the server as
that user; the temporary directory is given to it. As any other user the
server simply runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "PostgresServer",
    "PostgresStartError",
    "postgres_available",
    "postgres_binaries",
    "why_unavailable",
]

SERVICE_USER = "broadcastio-pg"
# useradd's exit status for "user already exists" (shadow-utils).
_USERADD_USER_EXISTS = 9
SUPERUSER = "broadcastio"
INSTALL_HINT = (
    "install Debian's postgresql package (apt-get install postgresql, as root: "
    "`make test` does it when it can)"
)


class PostgresStartError(RuntimeError):
    """The server did not start; the message holds the end of its log."""


def postgres_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH), or None."""
    found = shutil.which("pg_ctl")
    if found is not None and Path(found).with_name("initdb").exists():
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(versions[-1]).parent if versions else None


def postgres_available() -> bool:
    return postgres_binaries() is not None


def why_unavailable() -> str | None:
    """``None`` when a server can be started, else what is missing and how to install it."""
    if postgres_available():
        return None
    return f"PostgreSQL's initdb and pg_ctl were not found: {INSTALL_HINT}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _service_account() -> tuple[int, int] | None:
    """``(uid, gid)`` to run the server as; ``None`` when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        added = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            capture_output=True,
            text=True,
        )  # fmt: skip
        # Exit 9: another process (a parallel test session, the bench) created the
        # user between our lookup and useradd: that user is the one we wanted.
        if added.returncode not in (0, _USERADD_USER_EXISTS):
            raise PostgresStartError(
                f"useradd {SERVICE_USER} failed (exit {added.returncode}): {added.stderr.strip()}"
            ) from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


class PostgresServer:
    """One PostgreSQL cluster and server; ``start()``, ``stop()``, or use ``with``.

    ``dsn`` is a ``postgresql://`` URL with the password; ``dsn_with_password``
    makes the wrong-password variant.
    """

    def __init__(self, password: str | None = None, database: str = "broadcastio") -> None:
        self.password = password if password is not None else secrets.token_hex(12)
        self.database = database
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Path | None = None
        self._account: tuple[int, int] | None = None
        self._bin: Path | None = None
        self._started = False

    @property
    def dsn(self) -> str:
        return self.dsn_with_password(self.password)

    def dsn_with_password(self, password: str) -> str:
        return f"postgresql://{SUPERUSER}:{password}@{self.host}:{self.port}/{self.database}"

    def _run(self, *arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        account = self._account
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            # For createdb: a client tool would otherwise prompt for it on the terminal.
            "PGPASSWORD": self.password,
        }
        return subprocess.run(
            list(arguments),
            capture_output=True,
            text=True,
            timeout=timeout,
            user=None if account is None else account[0],
            group=None if account is None else account[1],
            extra_groups=None if account is None else [],
            cwd=self.directory,
            env=environment,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> PostgresServer:
        """``initdb``, then ``pg_ctl start -w``; ``PostgresStartError`` with the log otherwise."""
        self._bin = postgres_binaries()
        if self._bin is None:
            raise PostgresStartError(why_unavailable() or "PostgreSQL is missing")
        self._account = _service_account()
        # Under /tmp, not $TMPDIR: the service user must be able to reach the
        # directory, and a TMPDIR inside root's home (or any 0700 parent) would
        # make initdb fail with "permission denied".
        self.directory = Path(
            tempfile.mkdtemp(
                prefix="broadcastio-postgres-", dir="/tmp" if self._account is not None else None
            )
        )
        if self._account is not None:
            os.chown(self.directory, *self._account)
        data = self.directory / "data"
        password_file = self.directory / "password"
        # 0600 from its creation: never readable by others, not even before the chown.
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as written:
            written.write(self.password + "\n")
        if self._account is not None:
            os.chown(password_file, *self._account)
        initdb = self._run(
            str(self._bin / "initdb"),
            "--pgdata", str(data),
            "--username", SUPERUSER,
            "--pwfile", str(password_file),
            "--auth", "scram-sha-256",
            "--encoding", "UTF8",
            "--no-sync",
        )  # fmt: skip
        password_file.unlink()
        if initdb.returncode != 0:
            raise PostgresStartError(f"initdb failed: {(initdb.stderr or initdb.stdout)[-2000:]}")
        log = self.directory / "postgres.log"
        for _ in range(5):  # a port picked here may be taken before the server binds it
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.directory} -c listen_addresses={self.host} "
                "-c fsync=off -c full_page_writes=off"
            )
            started = self._run(
                str(self._bin / "pg_ctl"), "start", "-w", "-t", "60",
                "-D", str(data), "-l", str(log), "-o", options,
            )  # fmt: skip
            if started.returncode == 0:
                self._started = True
                try:
                    self._create_database()
                except BaseException:
                    self.stop()
                    raise
                return self
            text = log.read_text(errors="replace") if log.exists() else started.stderr
            if "already in use" not in text:
                raise PostgresStartError(f"pg_ctl start failed: {text[-2000:]}")
        raise PostgresStartError("PostgreSQL could not find a free port in 5 tries")

    def _create_database(self) -> None:
        assert self._bin is not None and self.directory is not None
        created = self._run(
            str(self._bin / "createdb"), "-h", str(self.directory), "-p", str(self.port),
            "-U", SUPERUSER, self.database,
        )  # fmt: skip
        if created.returncode != 0:
            raise PostgresStartError(f"createdb failed: {created.stderr[-2000:]}")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        if self._started and self._bin is not None and self.directory is not None:
            self._run(str(self._bin / "pg_ctl"), "stop", "-m", "fast", "-D",
                      str(self.directory / "data"))  # fmt: skip
            self._started = False
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> PostgresServer:
        return self.start() if not self._started else self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    """``python scripts/local_postgres.py``: run a server until Ctrl-C, printing its URL."""
    with PostgresServer() as server:
        print(server.dsn, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

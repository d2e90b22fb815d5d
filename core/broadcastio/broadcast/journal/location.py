"""Where a journal is: a file path, ``sqlite:///PATH`` or ``postgresql://...``; which backend.

One function, ``open_storage``, turns what a user gave (``Journal(...)``,
``broadcast(journal=...)``, ``--journal``, ``[broadcast] journal``) into an
open backend (``backend.JournalStorage``):

* a path (``str`` or ``os.PathLike``) without a scheme is an SQLite file, as it
  always was;
* ``sqlite://`` followed by a path is the same file: ``sqlite:///var/lib/j.sqlite``
  is ``/var/lib/j.sqlite`` (as in ``file:///``), ``sqlite://j.sqlite`` is
  ``j.sqlite`` in the current directory; percent-escapes are decoded;
* ``postgresql://`` (or ``postgres://``) is a PostgreSQL database, given to
  psycopg as it is (libpq's URL: user, password, host, port, database, and
  ``?sslmode=...`` style options);
* anything else that looks like a URL (``NAME://``) is refused, naming the URL
  with its password hidden, rather than taken for a file name.

``redact`` is the one place a URL loses its password before it is shown.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from broadcastio.broadcast.journal.backend import JournalStorage
from broadcastio.errors import ValidationError

__all__ = ["is_journal_url", "journal_display", "open_storage", "redact", "sqlite_path"]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_POSTGRES_SCHEMES = ("postgresql", "postgres")
# Query options of a libpq URL that carry a secret.
_SECRET_OPTIONS = {"password", "passfile", "sslpassword"}


def is_journal_url(value: object) -> bool:
    """Whether ``value`` is a string with a scheme (``NAME://``), rather than a plain path."""
    return isinstance(value, str) and _URL.match(value) is not None


def redact(url: str) -> str:
    """``url`` with its password (and any password option) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)
    netloc = parts.netloc
    if "@" in netloc:
        credentials, _, host = netloc.rpartition("@")
        if ":" in credentials:
            user = credentials.split(":", 1)[0]
            netloc = f"{user}:***@{host}"
    query = parts.query
    if query:
        options = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{name}={'***' if name.lower() in _SECRET_OPTIONS else value}"
            for name, value in options
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def journal_display(value: str | os.PathLike[str]) -> str:
    """How to name the journal ``value`` in a message: a path as it is, a URL redacted."""
    return redact(value) if isinstance(value, str) and is_journal_url(value) else str(value)


def sqlite_path(value: str | os.PathLike[str]) -> Path | None:
    """The file ``value`` names when it is a path or an ``sqlite://`` URL; ``None`` for a server.

    Raises ``ValidationError`` for a URL of a scheme no backend serves.
    """
    if not isinstance(value, str) or not is_journal_url(value):
        if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) or not str(value):
            raise ValidationError(f"journal must be a file path, a URL or a Journal, got {value!r}")
        return Path(value)
    scheme = _URL.match(value).group(1).lower()  # type: ignore[union-attr]
    if scheme == "sqlite":
        path = urllib.parse.unquote(value[len("sqlite://") :])
        if not path:
            raise ValidationError(
                f"journal URL {value!r} names no file: write sqlite:///ABSOLUTE/PATH "
                "or sqlite://RELATIVE/PATH"
            )
        return Path(path)
    if scheme in _POSTGRES_SCHEMES:
        return None
    raise ValidationError(
        f"journal URL {redact(value)!r} has an unknown scheme {scheme!r}: give a file path, "
        "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
        details={"journal": redact(value), "scheme": scheme},
    )


def open_storage(
    value: str | os.PathLike[str],
    *,
    durable: bool,
    create: bool,
    read_only: bool,
    busy_timeout: float,
) -> JournalStorage:
    """Open the journal ``value`` names with its backend (see the module docstring)."""
    path = sqlite_path(value)
    if path is not None:
        from broadcastio.broadcast.journal.file import JournalFile

        return JournalFile(
            path, durable=durable, create=create, read_only=read_only, busy_timeout=busy_timeout
        )
    # Imported here: psycopg is an extra, and only a PostgreSQL journal needs it.
    from broadcastio.broadcast.journal.postgres import PostgresJournal

    assert isinstance(value, str)
    return PostgresJournal(
        value, durable=durable, create=create, read_only=read_only, busy_timeout=busy_timeout
    )

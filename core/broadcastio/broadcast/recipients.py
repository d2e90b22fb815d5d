"""Recipient lists (CSV or JSON Lines) and the message template filled from each row.

A broadcast reads its recipients twice: once to check every row before anything
is sent (a typo in row 9,000 must not be found after 8,999 messages went out),
and once to send. Both passes stream the file, so memory does not grow with its
size; standard input is first copied to a temporary file so it can be read twice.

A row's recipient is either the ``recipient`` column (one address every
provider gets, as before contacts existed) or a contact: columns named after
address kinds (``ADDRESS_KINDS``: ``phone``, ``email``, ``telegram``, ``webhook``) plus an
optional ``id``. Every column, address columns included, is also a template
variable.

Templates use ``str.format`` fields restricted to plain names (``Hello {name}``;
``{{`` and ``}}`` for literal braces). Attribute and index lookups
(``{name.__class__}``) are refused: a template comes from a user, and a
recipient file from anyone.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import string
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from broadcastio.errors import ValidationError
from broadcastio.records.contact import Contact

__all__ = ["ADDRESS_KINDS", "RecipientFile", "RecipientRow", "Template", "open_recipient_file"]

RECIPIENT_COLUMN = "recipient"
ID_COLUMN = "id"
# The columns that hold addresses rather than template variables. A fixed list,
# not "every other column": ``name`` or ``city`` must never become an address.
ADDRESS_KINDS = ("email", "phone", "telegram", "webhook")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@attrs.frozen
class RecipientRow:
    """One recipient and the template variables that came with it.

    ``line`` is where the row starts in the file (1-based), for error messages.
    ``recipient`` is the ``recipient`` column's text, or a ``Contact`` made of
    the row's address columns.
    """

    line: int
    recipient: str | Contact
    variables: dict[str, str] = attrs.field(hash=False)


class Template:
    """A message text with ``{name}`` fields filled from a recipient's row."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ValidationError(f"the message template must be text, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            # A command-line argument holding bytes that are not UTF-8 arrives this way.
            raise ValidationError(
                f"the message template is not UTF-8 text (character {exc.start + 1} is a "
                "lone surrogate or an undecodable byte)"
            ) from None
        fields: list[str] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise ValidationError(
                f"invalid message template: {exc} (write {{{{ and }}}} for literal braces)"
            ) from None
        for _, field, spec, conversion in parsed:
            if field is None:
                continue
            if not field.isidentifier():
                raise ValidationError(
                    f"invalid template field {{{field}}}: use a plain column name such as {{name}}"
                )
            if spec or conversion:
                raise ValidationError(
                    f"template field {{{field}}} has a format spec or conversion; "
                    "only plain {name} fields are supported"
                )
            fields.append(field)
        self.text = text
        self.fields = tuple(dict.fromkeys(fields))

    def missing(self, variables: dict[str, str]) -> list[str]:
        """The template's fields that ``variables`` lacks."""
        return [field for field in self.fields if field not in variables]

    def render(self, variables: dict[str, str]) -> str:
        """The text for one row (its fields must all be present: see ``missing``)."""
        return self.text.format_map(variables)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


class RecipientFile:
    """A recipient list on disk, read row by row as many times as needed."""

    def __init__(self, path: Path, kind: str, label: str) -> None:
        self.path = path
        self.kind = kind  # "csv" or "jsonl"
        self.label = label

    def rows(self) -> Iterator[RecipientRow]:
        """Every row, checked for shape (a recipient that is not blank), lazily.

        The file is decoded with ``surrogateescape`` and each physical line is
        then checked on its own (``_utf8_lines``): a strict decoder would fail
        somewhere inside a 8 KiB chunk, with no line to name.
        """
        with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
            lines = self._utf8_lines(handle)
            if self.kind == "csv":
                yield from self._csv_rows(lines)
            else:
                yield from self._jsonl_rows(lines)

    def _utf8_lines(self, handle: IO[str]) -> Iterator[str]:
        """The lines of ``handle``; the first one holding a byte that is not UTF-8 is an error.

        Under ``surrogateescape`` such a byte arrives as a lone surrogate, and a
        surrogate can arrive no other way from a file (UTF-8 cannot encode one),
        so encoding the line back strictly finds exactly the bad bytes.
        """
        for line, text in enumerate(handle, 1):
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as exc:
                    byte = text[exc.start].encode("utf-8", "surrogateescape")
                    raise self.error(
                        line,
                        f"not UTF-8 text (byte 0x{byte.hex()} at character {exc.start + 1}); "
                        "save the file as UTF-8",
                    ) from None
            yield text

    def check(self, template: Template | None) -> int:
        """Read every row once and raise on the first bad one; return the row count.

        This is the pass before the first send: nothing goes out if any row is
        unusable.
        """
        count = 0
        for row in self.rows():
            self.check_row(row, template)
            count += 1
        return count

    def check_row(self, row: RecipientRow, template: Template | None) -> None:
        """Raise ``ValidationError`` naming the line if ``row`` cannot fill ``template``."""
        missing = [] if template is None else template.missing(row.variables)
        if missing:
            raise self.error(
                row.line,
                f"the template uses {', '.join('{' + m + '}' for m in missing)} "
                f"but this row has no such {'column' if self.kind == 'csv' else 'key'}",
            )

    def _csv_rows(self, lines: Iterator[str]) -> Iterator[RecipientRow]:
        reader = csv.reader(lines)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise self.error(1, f"not valid CSV: {exc}") from None
        columns = [column.strip() for column in header]
        if RECIPIENT_COLUMN not in columns and not any(k in columns for k in ADDRESS_KINDS):
            raise self.error(
                1,
                f"the CSV header has no {RECIPIENT_COLUMN!r} column "
                f"(found: {', '.join(columns) or 'nothing'}) and no address column "
                f"({', '.join(ADDRESS_KINDS)})",
            )
        duplicated = sorted({c for c in columns if columns.count(c) > 1})
        if duplicated:
            raise self.error(1, f"the CSV header repeats column(s) {', '.join(duplicated)}")
        line = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise self.error(line, f"not valid CSV: {exc}") from None
            if not values or all(not value.strip() for value in values):
                line = reader.line_num + 1
                continue  # blank lines are not recipients
            if len(values) != len(columns):
                raise self.error(
                    line, f"has {len(values)} fields but the header has {len(columns)}"
                )
            yield self._row(line, dict(zip(columns, values, strict=True)))
            line = reader.line_num + 1

    def _jsonl_rows(self, lines: Iterator[str]) -> Iterator[RecipientRow]:
        for line, text in enumerate(lines, 1):
            if not text.strip():
                continue
            data = self._parse_json(line, text)
            if not isinstance(data, dict):
                raise self.error(line, f"expected a JSON object, got {type(data).__name__}")
            recipient = data.get(RECIPIENT_COLUMN)
            has_address = any(kind in data for kind in ADDRESS_KINDS)
            if not isinstance(recipient, str) and (recipient is not None or not has_address):
                raise self.error(
                    line,
                    f"needs a {RECIPIENT_COLUMN!r} key holding text, got {recipient!r} "
                    f"(or address keys: {', '.join(ADDRESS_KINDS)})",
                )
            for key in (ID_COLUMN, *ADDRESS_KINDS):
                value = data.get(key)
                if value is not None and not isinstance(value, str):
                    raise self.error(line, f"key {key!r} must hold text, got {value!r}")
            variables = {}
            for key, value in data.items():
                if isinstance(value, (dict, list)):
                    raise self.error(
                        line,
                        f"key {key!r} holds a {type(value).__name__}; "
                        "template variables must be text, numbers or booleans",
                    )
                variables[key] = "" if value is None else _text(value)
            yield self._row(line, variables)

    def _parse_json(self, line: int, text: str) -> Any:
        """One JSON Lines line, with every way ``json.loads`` can refuse it named for a person.

        Besides malformed JSON, the decoder gives up on nesting deeper than the
        interpreter's recursion limit (``RecursionError``) and on integers longer
        than ``sys.get_int_max_str_digits()`` (a ``ValueError``, CVE-2020-10735).
        Neither can be a usable row, so both are bad rows like any other.
        """
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.error(line, f"not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise self.error(
                line, "JSON nested too deeply; a row is one object of plain values"
            ) from None
        except ValueError:
            # The only other ValueError json.loads raises: an integer too long to convert.
            raise self.error(
                line,
                f"a number has more than {_max_int_digits()} digits; quote it to pass it as text",
            ) from None

    def _row(self, line: int, variables: dict[str, str]) -> RecipientRow:
        """The row's recipient: its ``recipient`` text, or a contact of its address columns.

        A row uses one or the other: a ``recipient`` beside filled address
        columns would leave it unclear which one was meant. An empty cell is no
        address, so a file can mix people with only a phone and people with
        only an email.
        """
        plain = variables.get(RECIPIENT_COLUMN, "").strip()
        addresses = {
            kind: variables[kind] for kind in ADDRESS_KINDS if variables.get(kind, "").strip()
        }
        identity = variables.get(ID_COLUMN, "").strip() or None
        if addresses:
            if plain:
                raise self.error(
                    line,
                    f"has both a {RECIPIENT_COLUMN!r} and address columns "
                    f"({', '.join(addresses)}); fill one or the other",
                )
            try:
                contact = Contact(addresses, identity)
            except ValidationError as exc:
                raise self.error(line, exc.message) from None
            return RecipientRow(line=line, recipient=contact, variables=variables)
        if not plain:
            if not any(kind in variables for kind in ADDRESS_KINDS):
                raise self.error(line, "the recipient is empty")
            raise self.error(
                line,
                f"has no address: fill {RECIPIENT_COLUMN!r} or one of "
                f"{', '.join(ADDRESS_KINDS)}",
            )
        if identity is not None:
            raise self.error(
                line,
                f"has an {ID_COLUMN!r} but no address column ({', '.join(ADDRESS_KINDS)}); "
                f"an id belongs to a contact, not to a plain {RECIPIENT_COLUMN!r}",
            )
        return RecipientRow(line=line, recipient=plain, variables=variables)

    def error(self, line: int, problem: str) -> ValidationError:
        """The error for a bad row: file, line, the problem, and that nothing was sent."""
        return ValidationError(
            f"{self.label}, line {line}: {problem}; nothing was sent",
            details={"file": self.label, "line": line},
        )


def _max_int_digits() -> int:
    limit: int = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
    return limit


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def open_recipient_file(
    source: str | os.PathLike[str], *, kind: str | None = None, stdin: IO[bytes] | None = None
) -> RecipientFile:
    """A ``RecipientFile`` for a path, or for ``"-"`` (standard input, spooled to disk).

    ``kind`` is ``"csv"`` or ``"jsonl"``; by default ``.jsonl``/``.ndjson``/``.json``
    files are JSON Lines and anything else CSV. Standard input is JSON Lines when
    its first non-blank character is ``{``.
    """
    if kind not in (None, "csv", "jsonl"):
        raise ValidationError(f"recipient file format must be 'csv' or 'jsonl', got {kind!r}")
    if str(source) == "-":
        return _spool_stdin(kind, stdin if stdin is not None else sys.stdin.buffer)
    path = Path(source)
    if not path.is_file():
        raise ValidationError(
            f"recipient file {str(path)!r} "
            + ("is not a file" if path.exists() else "does not exist")
        )
    if kind is None:
        kind = "jsonl" if path.suffix.lower() in _JSONL_SUFFIXES else "csv"
    return RecipientFile(path, kind, str(path))


def _spool_stdin(kind: str | None, stream: IO[bytes]) -> RecipientFile:
    # Deleted when the process exits; a broadcast of stdin reads it twice.
    spool = tempfile.NamedTemporaryFile(prefix="broadcastio-recipients-", delete=False)
    with spool:
        shutil.copyfileobj(stream, spool)
    path = Path(spool.name)
    _remove_at_exit(path)
    if kind is None:
        with open(path, "rb") as handle:
            head = io.BufferedReader(handle).peek(4096)
        kind = "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"
    return RecipientFile(path, kind, "<stdin>")


def _remove_at_exit(path: Path) -> None:
    import atexit

    atexit.register(lambda: path.unlink(missing_ok=True))

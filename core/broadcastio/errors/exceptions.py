"""Exceptions raised by broadcastio.

An exception always means misuse or misconfiguration: a message that can never be
delivered as written, a provider chain that cannot work, a bad setting. A delivery
that simply did not get through is *not* an exception; it comes back as a
``DeliveryResult`` with ``success=False``. Keeping the two apart lets callers
``except BroadcastioError`` around their own bugs without swallowing outages.

Errors are data: where the problem is (``key_path``, ``source``), what it is
(``problem``) and which argument it concerns (``field``) are fields, and the
message is rendered from them. A layer that knows more context adds it with
``with_prefix`` or ``located`` instead of re-wording the text, so no layer ever
has to parse another's message to find out what went wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, TypeVar

from broadcastio.errors.codes import ErrorCode

__all__ = [
    "AttachmentError",
    "BroadcastioError",
    "ConfigurationError",
    "KeyPath",
    "OrchestrationError",
    "ValidationError",
    "format_key_path",
]

_Error = TypeVar("_Error", bound="BroadcastioError")

KeyPath = tuple[str | int, ...]
"""Where a value sits in a document: table keys as ``str``, list positions as ``int``."""


def format_key_path(key_path: Iterable[str | int]) -> str:
    """``("providers", "whatsapp", "timeout", 1)`` as ``providers.whatsapp.timeout[1]``."""
    text = ""
    for key in key_path:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else key
    return text


class BroadcastioError(Exception):
    """Base class of every exception broadcastio raises on purpose.

    ``code`` classifies the problem with the same vocabulary delivery results use,
    and ``details`` carries whatever the caller needs to fix it (provider, variable…).

    The structured fields, all optional:

    * ``problem``: what is wrong, as a sentence (``message`` when only that is given);
    * ``key_path``: where, as a tuple of keys (``("orchestrator", "health_ttl")``);
    * ``source``: the file (or other origin) the key path is in;
    * ``field``: the argument or field the problem concerns when the sentence
      itself names it (``"fail_first must be ..."``), so it is not in ``key_path``;
    * ``problems``: the individual problems this error sums up, each with a key
      path relative to this error's own.

    ``message`` and ``str()`` are ``source: key.path: problem``, leaving out what is
    unset; with ``problems`` and no ``problem``, the problems joined with ``; ``.
    """

    default_code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        details: dict[str, Any] | None = None,
        problem: str | None = None,
        key_path: Iterable[str | int] = (),
        source: str | None = None,
        field: str | None = None,
        problems: Iterable[BroadcastioError] = (),
    ) -> None:
        self.key_path: KeyPath = tuple(key_path)
        self.source = source
        self.field = field
        self.problems: tuple[BroadcastioError, ...] = tuple(problems)
        given = problem if problem is not None else message
        if given is None and not self.problems:
            raise TypeError(f"{type(self).__name__} needs a message, a problem or problems")
        self._problem = given
        self.code = code if code is not None else self.default_code
        self.details: dict[str, Any] = dict(details or {})
        super().__init__(self.message)

    # A non-data descriptor on purpose: a subclass may keep a richer ``problem`` of
    # its own in the instance (``JournalError.problem`` is a ``JournalProblem``).
    @functools.cached_property
    def problem(self) -> str:
        """What is wrong, without where: the sentence ``message`` ends with."""
        if self._problem is not None:
            return self._problem
        return "; ".join(problem.message for problem in self.problems)

    @property
    def message(self) -> str:
        """The whole sentence a person reads: ``source: key.path: problem``."""
        problem = self._problem
        if problem is None:
            problem = "; ".join(problem.message for problem in self.problems)
        parts = [self.source, format_key_path(self.key_path), problem]
        return ": ".join(part for part in parts if part)

    def __str__(self) -> str:
        return self.message

    def with_prefix(self: _Error, *keys: str | int) -> _Error:
        """A copy placed under ``keys``: the layer above says where its input sat.

        ``keys`` go in front of ``key_path``; the problems summed up move along
        with it, since their paths are relative to this one.
        """
        return self.evolve(key_path=(*keys, *self.key_path))

    def located(self: _Error, source: str | None) -> _Error:
        """A copy that says which file (or other origin) its key path is in."""
        return self.evolve(source=source)

    def evolve(self: _Error, **changes: Any) -> _Error:
        """A copy of this error (same class) with ``changes`` to its fields, like ``attrs.evolve``.

        Only errors built from fields can be copied: a subclass with a
        constructor of its own (``JournalError``) refuses with ``TypeError``.
        """
        if type(self).__init__ is not BroadcastioError.__init__:
            raise TypeError(f"{type(self).__name__} has its own constructor; it cannot evolve")
        fields: dict[str, Any] = {
            "code": self.code,
            "details": self.details,
            "problem": self._problem,
            "key_path": self.key_path,
            "source": self.source,
            "field": self.field,
            "problems": self.problems,
        }
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"unknown error field(s): {', '.join(sorted(unknown))}")
        fields.update(changes)
        copy = type(self)(**fields)
        copy.__cause__, copy.__context__ = self.__cause__, self.__context__
        return copy


class ValidationError(BroadcastioError, ValueError):
    """A value handed to broadcastio is malformed (a message, a retry policy…)."""

    default_code = ErrorCode.INVALID_MESSAGE


class AttachmentError(ValidationError):
    """An attachment cannot be read: its file is missing or is not a regular file."""

    default_code = ErrorCode.ATTACHMENT_NOT_FOUND


class OrchestrationError(BroadcastioError):
    """The provider chain cannot deliver at all (no providers, none healthy in strict mode)."""

    default_code = ErrorCode.NO_PROVIDERS


class ConfigurationError(BroadcastioError):
    """Settings or plugin set-up are wrong: unknown provider, bad field, duplicate names."""

    default_code = ErrorCode.PROVIDER_MISCONFIGURED

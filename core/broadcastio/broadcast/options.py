"""``BroadcastOptions``: how one broadcast runs, checked once, passed whole.

The same six settings travel from the caller (a script's keywords, the command
line's flags) through ``broadcast`` and ``iter_broadcast`` to ``BroadcastRun``.
Spelled out as keyword arguments at every step, each new option had to be added
to four signatures and five forwarding calls, and a forgotten one was silently
dropped. As one frozen record, an option is declared and checked here only, and
every layer passes the record on untouched (``attrs.evolve`` makes the variant a
run actually uses: its generated id, its opened journal).

Checks happen when the record is built, before anything is read or sent, and
raise ``ValidationError`` naming the option (its ``field`` is the option's
name), with the same wording the keyword arguments have always had.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from broadcastio.broadcast.journal import Journal
from broadcastio.broadcast.pause import DEFAULT_MAX_PAUSE, OnPause
from broadcastio.broadcast.task import RecipientOutcome
from broadcastio.errors import ValidationError
from broadcastio.records.checks import check_bool, check_int, check_number, check_text

__all__ = [
    "BroadcastOptions",
    "JournalArgument",
    "MAX_BROADCAST_ID_LENGTH",
    "MAX_CONCURRENCY",
    "OnResult",
    "options_from",
]

JournalArgument = str | os.PathLike[str] | Journal | None
"""What ``journal`` accepts: a path to open (and close), an open ``Journal``, or none."""

OnResult = Callable[[RecipientOutcome], object]
"""``on_result``: called with every outcome, in the thread consuming the run."""

MAX_CONCURRENCY = 256
"""Each unit of concurrency is a thread; no provider gains from more parallel sends."""

MAX_BROADCAST_ID_LENGTH = 200
"""A broadcast id is typed, shown in listings and stored per journal: a name, not a document."""


def _check_concurrency(_: object, __: attrs.Attribute[int], value: Any) -> None:
    check_int("concurrency", value, minimum=1)
    if value > MAX_CONCURRENCY:
        raise ValidationError(
            f"concurrency must be <= {MAX_CONCURRENCY}, got {value}: each unit is a "
            "thread, and a provider gains nothing from more parallel sends than that",
            field="concurrency",
        )


def _check_journal(_: object, __: attrs.Attribute[JournalArgument], value: Any) -> None:
    # Only the kind is checked here; whether the path can be opened is for
    # ``Journal`` to say when the run opens it (it reports the file's problem).
    if value is None or isinstance(value, Journal):
        return
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ValidationError(
            f"journal must be a file path or a Journal, got {value!r}", field="journal"
        )


def _check_broadcast_id(_: object, __: attrs.Attribute[str | None], value: Any) -> None:
    if value is None:
        return
    check_text("broadcast_id", value)
    if len(value) > MAX_BROADCAST_ID_LENGTH or value != value.strip():
        raise ValidationError(
            f"broadcast_id must be at most {MAX_BROADCAST_ID_LENGTH} characters without "
            f"surrounding blanks, got {value!r}",
            field="broadcast_id",
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationError(
            f"broadcast_id must not contain control characters: {value!r}", field="broadcast_id"
        )


def _check_retry_failed(_: object, __: attrs.Attribute[bool], value: Any) -> None:
    check_bool("retry_failed", value)


def _check_on_result(_: object, __: attrs.Attribute[OnResult | None], value: Any) -> None:
    if value is not None and not callable(value):
        raise ValidationError(
            f"on_result must be callable, got {type(value).__name__}", field="on_result"
        )


def _check_max_pause(_: object, __: attrs.Attribute[float], value: Any) -> None:
    check_number("max_pause", value, maximum=7 * DEFAULT_MAX_PAUSE)


def _check_on_pause(_: object, __: attrs.Attribute[OnPause | None], value: Any) -> None:
    if value is not None and not callable(value):
        raise ValidationError(
            f"on_pause must be callable, got {type(value).__name__}", field="on_pause"
        )


def _check_stop(_: object, __: attrs.Attribute[threading.Event | None], value: Any) -> None:
    # Anything with an ``is_set()`` will do (a multiprocessing Event too).
    if value is not None and not callable(getattr(value, "is_set", None)):
        raise ValidationError(
            f"stop must be a threading.Event, got {type(value).__name__}", field="stop"
        )


@attrs.frozen(kw_only=True)
class BroadcastOptions:
    """How a broadcast runs: ``broadcast(orchestrator, messages, options)``.

    ``concurrency``: how many sends are in flight at once, each in its own
    thread (1 to 256). ``journal``: a path or journal URL (``sqlite:///PATH``,
    ``postgresql://...``; opened, and closed when the run ends) or an open
    ``Journal`` (left open); ``None`` keeps no journal, so
    nothing can be resumed. ``broadcast_id``: the broadcast to start or, with a
    journal, resume; ``None`` makes a new one when the run starts
    (``run.broadcast_id``), so one record can start many broadcasts.
    ``retry_failed``: on a resume, send again to recipients that failed or were
    ambiguous. ``on_result``: called with every ``RecipientOutcome``, in the
    consuming thread; what it raises is logged and ignored. ``stop``: a
    ``threading.Event`` that ends the run early, as cleanly as the end of the input.
    ``max_pause``: the longest wait (seconds, default a day, 0 never waits) for a
    provider that answers ``RATE_LIMITED`` with a ``retry_after`` (a channel's
    hourly or daily cap): the row is sent again once the window reopens instead
    of failing, and so is every row behind it. ``on_pause``: called with a
    ``BroadcastPause`` (``until``, ``provider``, ``reason``) when a sending
    thread starts such a wait, from that thread; the log says it too.

    Built by keyword only; every value is checked on construction (and again by
    ``attrs.evolve``), raising ``ValidationError`` that names the option.
    """

    concurrency: int = attrs.field(default=4, validator=_check_concurrency)
    journal: JournalArgument = attrs.field(default=None, validator=_check_journal)
    broadcast_id: str | None = attrs.field(default=None, validator=_check_broadcast_id)
    retry_failed: bool = attrs.field(default=False, validator=_check_retry_failed)
    on_result: OnResult | None = attrs.field(default=None, validator=_check_on_result)
    stop: threading.Event | None = attrs.field(default=None, validator=_check_stop)
    max_pause: float = attrs.field(default=DEFAULT_MAX_PAUSE, validator=_check_max_pause)
    on_pause: OnPause | None = attrs.field(default=None, validator=_check_on_pause)


_NAMES = tuple(field.name for field in attrs.fields(BroadcastOptions))


def options_from(options: BroadcastOptions | None, keywords: Mapping[str, Any]) -> BroadcastOptions:
    """The options of one call: the record given, or one built from the keywords given.

    Both at once is refused rather than merged: which of two values for
    ``concurrency`` wins would be a rule to remember, and the caller meant one
    of them. An unknown keyword is a ``ValidationError`` listing the known
    ones (a misspelled ``retry_faild=True`` must not be dropped in silence).
    """
    if options is not None:
        if not isinstance(options, BroadcastOptions):
            raise ValidationError(
                f"options must be a BroadcastOptions, got {type(options).__name__}"
            )
        if keywords:
            raise ValidationError(
                "give the broadcast options either as a BroadcastOptions or as keywords, "
                f"not both (got options and {', '.join(sorted(keywords))})"
            )
        return options
    unknown = sorted(name for name in keywords if name not in _NAMES)
    if unknown:
        raise ValidationError(
            f"unknown broadcast option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; the options are {', '.join(_NAMES)}"
        )
    return BroadcastOptions(**keywords)

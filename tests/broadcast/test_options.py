"""``BroadcastOptions``: one record for a run's settings, interchangeable with the keywords.

The keywords of ``broadcast`` / ``iter_broadcast`` build the record, so the two
spellings must agree on everything: the values a run uses and, for bad values,
the exact error. Runs here are built and closed, never iterated, unless the
test is about what a run does with its options.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import attrs
import pytest
from broadcast_support import RecordingProvider, make_messages
from hypothesis import given
from hypothesis import strategies as st

from broadcastio import BroadcastOptions, Orchestrator, ValidationError
from broadcastio.broadcast import BroadcastRun, Journal, RecipientStatus, broadcast, iter_broadcast

VALID_IDS = st.text(
    alphabet=st.characters(
        min_codepoint=33, max_codepoint=0x2FFF, exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")
    ),
    min_size=1,
    max_size=200,
)

VALID_KEYWORDS = st.fixed_dictionaries(
    {},
    optional={
        "concurrency": st.integers(min_value=1, max_value=256),
        "broadcast_id": VALID_IDS,
        "retry_failed": st.booleans(),
        "stop": st.builds(threading.Event),
        "on_result": st.just(print),
    },
)

# Values the record refuses, each with the start of today's wording.
BAD_VALUES = [
    ({"concurrency": 0}, "concurrency must be >= 1, got 0"),
    ({"concurrency": 2.5}, "concurrency must be an integer, got 2.5"),
    ({"concurrency": True}, "concurrency must be an integer, got True"),
    ({"concurrency": 257}, "concurrency must be <= 256, got 257: each unit is a thread"),
    ({"broadcast_id": ""}, "broadcast_id must not be empty"),
    ({"broadcast_id": 7}, "broadcast_id must be a string, got int"),
    ({"broadcast_id": " padded "}, "broadcast_id must be at most 200 characters without"),
    ({"broadcast_id": "a\tb"}, "broadcast_id must not contain control characters"),
    ({"retry_failed": 1}, "retry_failed must be true or false, got 1"),
    ({"on_result": 3}, "on_result must be callable, got int"),
    ({"stop": "soon"}, "stop must be a threading.Event, got str"),
    ({"journal": 12}, "journal must be a file path or a Journal, got 12"),
    ({"journal": ""}, "journal must be a file path or a Journal, got ''"),
    ({"journal": False}, "journal must be a file path or a Journal, got False"),
]


@pytest.fixture
def orchestrator() -> Orchestrator:
    return Orchestrator([RecordingProvider()])


@given(keywords=VALID_KEYWORDS)
def test_keywords_and_the_record_make_the_same_run(keywords: dict[str, Any]) -> None:
    orchestrator = Orchestrator([RecordingProvider()])
    record = BroadcastOptions(**keywords)
    with iter_broadcast(orchestrator, make_messages(1), **keywords) as by_keywords:
        with iter_broadcast(orchestrator, make_messages(1), record) as by_record:
            if "broadcast_id" in keywords:
                assert by_keywords.options == by_record.options
            else:  # each run makes its own id; everything else is the same
                assert by_keywords.broadcast_id != by_record.broadcast_id
                assert attrs.evolve(by_keywords.options, broadcast_id=None) == record
            assert by_record.concurrency == record.concurrency
            assert by_record.retry_failed == record.retry_failed


@pytest.mark.parametrize(("keywords", "message"), BAD_VALUES)
def test_the_record_refuses_what_the_keywords_refuse_in_the_same_words(
    orchestrator: Orchestrator, keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as from_record:
        BroadcastOptions(**keywords)
    with pytest.raises(ValidationError) as from_keywords:
        iter_broadcast(orchestrator, make_messages(1), **keywords)
    assert str(from_record.value).startswith(message)
    assert str(from_keywords.value) == str(from_record.value)
    # Errors as data: the option is a field of the error, not a word to parse.
    assert from_record.value.field == from_keywords.value.field == next(iter(keywords))


@given(concurrency=st.integers().filter(lambda n: not 1 <= n <= 256))
def test_concurrency_outside_its_range_names_the_bound(concurrency: int) -> None:
    bound = ">= 1" if concurrency < 1 else "<= 256"
    with pytest.raises(ValidationError, match=f"^concurrency must be {bound}, got "):
        BroadcastOptions(concurrency=concurrency)


def test_the_record_is_frozen_and_evolve_checks_again() -> None:
    options = BroadcastOptions(concurrency=8)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.concurrency = 9  # type: ignore[misc]
    with pytest.raises(ValidationError, match="concurrency must be <= 256"):
        attrs.evolve(options, concurrency=1000)
    with pytest.raises(TypeError):
        BroadcastOptions(8)  # type: ignore[misc]  # keyword only: a record built by keyword


def test_the_defaults_are_documented_ones() -> None:
    assert BroadcastOptions() == BroadcastOptions(
        concurrency=4,
        journal=None,
        broadcast_id=None,
        retry_failed=False,
        on_result=None,
        stop=None,
    )


def test_options_and_keywords_together_are_refused(orchestrator: Orchestrator) -> None:
    with pytest.raises(ValidationError, match=r"not both \(got options and concurrency, stop\)"):
        broadcast(
            orchestrator,
            make_messages(1),
            BroadcastOptions(),
            concurrency=2,
            stop=threading.Event(),
        )
    assert orchestrator.providers[0].count == 0  # type: ignore[attr-defined]


def test_options_must_be_the_record(orchestrator: Orchestrator) -> None:
    with pytest.raises(ValidationError, match="options must be a BroadcastOptions, got dict"):
        iter_broadcast(orchestrator, make_messages(1), {"concurrency": 2})  # type: ignore[arg-type]


def test_an_unknown_keyword_is_named_with_the_known_ones(orchestrator: Orchestrator) -> None:
    with pytest.raises(ValidationError) as raised:
        broadcast(orchestrator, make_messages(1), retry_faild=True)
    assert str(raised.value) == (
        "unknown broadcast option 'retry_faild'; the options are concurrency, journal, "
        "broadcast_id, retry_failed, on_result, stop, max_pause, on_pause"
    )
    assert orchestrator.providers[0].count == 0  # type: ignore[attr-defined]


def test_one_record_serves_many_broadcasts_and_is_not_changed(
    orchestrator: Orchestrator, journal_path: Path
) -> None:
    seen: list[RecipientStatus] = []
    options = BroadcastOptions(
        concurrency=2, journal=journal_path, on_result=lambda outcome: seen.append(outcome.status)
    )
    first = broadcast(orchestrator, make_messages(3), options)
    second = orchestrator.broadcast(make_messages(3), options=options)  # the alias forwards it
    # No broadcast_id: each run made its own, so the second sent everything again.
    assert first.broadcast_id != second.broadcast_id
    assert (first.delivered, second.delivered) == (3, 3)
    assert seen == [RecipientStatus.DELIVERED] * 6
    assert options.broadcast_id is None and options.journal == journal_path
    with Journal(journal_path) as journal:
        assert {info.broadcast_id for info in journal.broadcasts()} == {
            first.broadcast_id,
            second.broadcast_id,
        }


def test_an_open_journal_in_the_record_is_left_open(
    orchestrator: Orchestrator, journal_path: Path
) -> None:
    with Journal(journal_path) as journal:
        options = BroadcastOptions(journal=journal, broadcast_id="b")
        report = broadcast(orchestrator, make_messages(2), options)
        assert report.delivered == 2
        assert journal.info("b").runs == 1  # still usable: the run did not close it


def test_a_run_needs_resolved_options(orchestrator: Orchestrator, journal_path: Path) -> None:
    """``BroadcastRun`` is made by ``iter_broadcast``; given a path or no id, it says so."""
    for options in (
        BroadcastOptions(),
        BroadcastOptions(broadcast_id="b", journal=journal_path),
    ):
        with pytest.raises(ValidationError, match="needs options with a broadcast_id and an open"):
            BroadcastRun(orchestrator, iter(make_messages(1)), options, owns_journal=False)
    assert not journal_path.exists()

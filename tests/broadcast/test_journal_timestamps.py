"""The journal's timestamps: ``isoformat()``'s text, made without a ``datetime`` per call."""

from __future__ import annotations

import datetime as _dt

from hypothesis import given
from hypothesis import strategies as st

from broadcastio.broadcast.journal.file import utc_now_text, utc_text_of

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@given(
    st.integers(min_value=0, max_value=4_102_444_800 * 10**9),  # up to 2100
    st.sampled_from([0, 1, 999, 1000, 500_000_000, 999_999_999]),
)
def test_the_text_is_what_isoformat_gives(nanoseconds: int, within_second: int) -> None:
    # Whole seconds and microsecond 0 included: isoformat then leaves the fraction out.
    stamp = nanoseconds - nanoseconds % 10**9 + within_second
    expected = (EPOCH + _dt.timedelta(microseconds=stamp // 1000)).isoformat()
    assert utc_text_of(stamp) == expected


def test_consecutive_seconds_each_get_their_own_date_and_time() -> None:
    # The date and time of day are kept per second: a new second must not reuse them.
    base = 1_800_000_000 * 10**9
    for offset in (0, 10**9 - 1, 10**9, 86_400 * 10**9, 0):
        stamp = base + offset
        expected = (EPOCH + _dt.timedelta(microseconds=stamp // 1000)).isoformat()
        assert utc_text_of(stamp) == expected


def test_now_is_now() -> None:
    before = _dt.datetime.now(_dt.timezone.utc)
    text = utc_now_text()
    after = _dt.datetime.now(_dt.timezone.utc)
    parsed = _dt.datetime.fromisoformat(text)
    assert before - _dt.timedelta(microseconds=1) <= parsed <= after
    assert parsed.tzinfo is not None and parsed.utcoffset() == _dt.timedelta(0)

"""Splitting long texts: properties over generated texts, and the cases worth naming."""

from __future__ import annotations

import re

import pytest
from fake_telegram import visible_text
from hypothesis import given, settings
from hypothesis import strategies as st

from broadcastio_telegram import escape_html, escape_markdown_v2, split_text, utf16_length
from broadcastio_telegram.splitting import Unsplittable

# Words from a few alphabets, an astral emoji (two UTF-16 units), and the
# separators the splitter prefers.
WORD = st.text(
    alphabet=st.sampled_from(list("abcxyzÄé字😀🚨.-_*!") + ["\u200d"]), min_size=1, max_size=40
)
SEPARATOR = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\t", "  "])
LIMIT = st.integers(min_value=8, max_value=300)


@st.composite
def texts(draw: st.DrawFn, word: st.SearchStrategy[str] = WORD) -> str:
    words = draw(st.lists(word, min_size=1, max_size=120))
    separators = draw(st.lists(SEPARATOR, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, separators, strict=True)).strip() or "x"


def assert_slices_of(parts: list[str], text: str) -> None:
    """Each part is the next stretch of ``text``; only white space lies between them."""
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found != -1, (part, text[position:])
        assert text[position:found].strip() == "", text[position:found]
        position = found + len(part)
    assert text[position:].strip() == ""


@settings(max_examples=200, deadline=None)
@given(text=texts(), limit=LIMIT)
def test_plain_parts_are_in_order_within_the_limit_and_lose_only_white_space(
    text: str, limit: int
) -> None:
    parts = split_text(text, limit)

    assert all(0 < utf16_length(part) <= limit for part in parts)
    assert all(part.strip() for part in parts)
    assert_slices_of(parts, text)
    assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)


@settings(max_examples=200, deadline=None)
@given(text=texts(), limit=LIMIT)
def test_markdown_v2_parts_never_cut_an_escape_and_each_parses(text: str, limit: int) -> None:
    escaped = escape_markdown_v2(text)

    parts = split_text(escaped, limit, parse_mode="MarkdownV2")

    assert_slices_of(parts, escaped)
    for part in parts:
        assert utf16_length(part) <= limit
        visible_text(part, "MarkdownV2")  # raises on a cut escape
    assert re.sub(r"\s", "", "".join(visible_text(p, "MarkdownV2") for p in parts)) == re.sub(
        r"\s", "", text
    )


@st.composite
def html_texts(draw: st.DrawFn) -> str:
    """Escaped words, some wrapped in (nested) tags Telegram supports."""
    pieces = []
    for _ in range(draw(st.integers(min_value=1, max_value=60))):
        words = " ".join(escape_html(w) for w in draw(st.lists(WORD, min_size=1, max_size=6)))
        tag = draw(st.sampled_from([None, "b", "i", "u", "code", 'a href="https://x.io/a?b=1"']))
        if tag is not None:
            name = tag.split()[0]
            words = f"<{tag}>{words}</{name}>"
        if draw(st.booleans()):
            words = f"<b>{words} &amp; more</b>"
        pieces.append(words)
        pieces.append(draw(SEPARATOR))
    return "".join(pieces).strip()


@settings(max_examples=200, deadline=None)
@given(text=html_texts(), limit=st.integers(min_value=120, max_value=400))
def test_html_parts_are_each_well_formed_and_show_the_whole_text_in_order(
    text: str, limit: int
) -> None:
    parts = split_text(text, limit, parse_mode="HTML")

    shown = []
    for part in parts:
        assert utf16_length(part) <= limit
        shown.append(visible_text(part, "HTML"))  # raises on a cut tag or entity
    assert re.sub(r"\s", "", "".join(shown)) == re.sub(r"\s", "", visible_text(text, "HTML"))


def test_a_text_that_fits_is_returned_unchanged() -> None:
    assert split_text("  hello\n\n") == ["  hello\n\n"]


def test_paragraph_breaks_are_preferred_to_line_breaks_and_spaces() -> None:
    text = "a" * 50 + "\n\n" + "b" * 30 + "\n" + "c" * 10 + " " + "d" * 25
    assert split_text(text, 100) == ["a" * 50, "b" * 30 + "\n" + "c" * 10 + " " + "d" * 25]


def test_a_boundary_short_of_half_a_message_gives_way_to_a_later_lesser_one() -> None:
    text = "a" * 10 + "\n\n" + "b" * 60 + " " + "c" * 60
    assert split_text(text, 100) == ["a" * 10 + "\n\n" + "b" * 60, "c" * 60]


def test_a_word_longer_than_a_message_is_cut_hard_never_inside_a_surrogate_pair() -> None:
    text = "😀" * 100  # 200 UTF-16 code units
    parts = split_text(text, 51)
    assert [utf16_length(part) for part in parts] == [50, 50, 50, 50]
    assert "".join(parts) == text


def test_html_tags_open_at_a_cut_are_closed_and_reopened() -> None:
    text = '<b><a href="https://x.io">' + "word " * 40 + "</a></b>"
    first, *rest = split_text(text, 120, parse_mode="HTML")
    assert first.startswith('<b><a href="https://x.io">word')
    assert first.endswith("</a></b>")
    assert all(part.startswith('<b><a href="https://x.io">') for part in rest)
    assert all(part.endswith("</a></b>") for part in rest)


def test_an_html_tag_longer_than_a_message_is_unsplittable() -> None:
    with pytest.raises(Unsplittable):
        split_text(f'<a href="https://x.io/{"p" * 200}">link</a>', 100, parse_mode="HTML")


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("a字😀") == 4

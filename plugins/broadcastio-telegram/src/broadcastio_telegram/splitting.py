"""Cutting a long text into messages Telegram accepts, in order, without breaking markup.

Telegram limits a message to 4,096 characters and a caption to 1,024,
counted after entity parsing in UTF-16 code units (an emoji outside the
Basic Multilingual Plane counts two). Markup only ever adds characters to the
source (``<b>``, ``&amp;``, ``\\.``), so a source within the limit is within it
after parsing too: parts are measured on their source, which is exact for
plain text and cautious (a little short) for ``HTML`` and ``MarkdownV2``.

Where a text is cut, in order of preference, looking back from the furthest
point that fits: a paragraph break (a blank line), a line break, any other
white space; a boundary of a kind is taken only if it leaves the part at least
half full, else the next kind is tried. The white space at the cut is dropped
(Telegram would trim it from both messages anyway). Failing all that, the
text is cut hard at the last point that fits, which is never inside a
surrogate pair (Python counts code points, so one is never halved), an HTML
tag or entity (``<a href="...">``, ``&amp;``), or a MarkdownV2 escape
(``\\.``). In ``HTML`` the tags open at a cut are closed at the end of the
part and opened again at the start of the next, so each part is well-formed
on its own. In ``MarkdownV2`` formatting is not carried across a cut: a
``*bold*`` span longer than a message is refused by Telegram
(``INVALID_MESSAGE``); paragraph cuts make that rare.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

__all__ = [
    "CAPTION_LIMIT",
    "MESSAGE_LIMIT",
    "TITLE_LIMIT",
    "Unsplittable",
    "escape_html",
    "escape_markdown_v2",
    "split_text",
    "utf16_length",
]

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
TITLE_LIMIT = 1024
"""Characters of a title kept; a longer one is shortened with an ellipsis, so
the bold first line always fits in the first message."""

_MARKDOWN_V2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
# One HTML tag (opening, closing or self-closing) or character entity.
_HTML_TOKEN = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*>|&(?:#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);"
)
_WHITESPACE = re.compile(r"\s+")


class Unsplittable(ValueError):
    """The text has a stretch longer than a message with no point it may be cut at."""


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for character in text if ord(character) > 0xFFFF)


def escape_html(text: str) -> str:
    """``text`` as literal characters in Telegram's HTML: ``<``, ``>``, ``&`` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_markdown_v2(text: str) -> str:
    """``text`` as literal characters in MarkdownV2: every reserved character escaped."""
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


class _Markup:
    """Where a text may be cut, and (HTML) which tags are open at a point."""

    def __init__(self, text: str, parse_mode: str | None) -> None:
        self.text = text
        self.parse_mode = parse_mode
        # Half-open spans [start, end) that must not be cut inside.
        self._protected_starts: list[int] = []
        self._protected_ends: list[int] = []
        # HTML: positions after each tag, and the open tags there.
        self._tag_ends: list[int] = []
        self._stacks: list[tuple[tuple[str, str], ...]] = []
        if parse_mode == "HTML":
            stack: list[tuple[str, str]] = []
            for match in _HTML_TOKEN.finditer(text):
                self._protect(match.start(), match.end())
                name = match.group(2)
                if name is None:
                    continue  # an entity
                if match.group(1):
                    for index in range(len(stack) - 1, -1, -1):
                        if stack[index][0] == name.lower():
                            del stack[index:]
                            break
                elif not match.group(0).endswith("/>"):
                    stack.append((name.lower(), match.group(0)))
                self._tag_ends.append(match.end())
                self._stacks.append(tuple(stack))
        elif parse_mode == "MarkdownV2":
            index = text.find("\\")
            while index != -1 and index + 1 < len(text):
                self._protect(index, index + 2)
                index = text.find("\\", index + 2)

    def _protect(self, start: int, end: int) -> None:
        self._protected_starts.append(start)
        self._protected_ends.append(end)

    def may_cut(self, position: int) -> bool:
        """Whether the text may be cut just before ``text[position]``."""
        index = bisect.bisect_right(self._protected_starts, position - 1) - 1
        return not (index >= 0 and self._protected_ends[index] > position)

    def open_tags(self, position: int) -> tuple[tuple[str, str], ...]:
        """The HTML tags open just before ``text[position]``: (name, opening tag text)."""
        index = bisect.bisect_right(self._tag_ends, position) - 1
        return self._stacks[index] if index >= 0 else ()


def split_text(
    text: str, limit: int = MESSAGE_LIMIT, *, parse_mode: str | None = None
) -> list[str]:
    """``text`` as messages of at most ``limit`` UTF-16 code units, in order.

    A text that fits is returned as it is, alone. Otherwise see the module's
    description for where cuts go. Raises ``Unsplittable`` when a stretch
    longer than ``limit`` has no point that may be cut (one HTML tag longer
    than a message).
    """
    if utf16_length(text) <= limit:
        return [text]
    markup = _Markup(text, parse_mode)
    # cumulative[i]: UTF-16 length of text[:i].
    cumulative = [0]
    for character in text:
        cumulative.append(cumulative[-1] + (2 if ord(character) > 0xFFFF else 1))
    parts: list[str] = []
    position = 0
    prefix = ""
    while position < len(text):
        prefix_length = utf16_length(prefix)
        if cumulative[-1] - cumulative[position] + prefix_length <= limit:
            rest = prefix + text[position:]
            if _visible(rest, parse_mode).strip():
                parts.append(rest)
            break
        budget = limit - prefix_length
        cut = _find_cut(text, markup, cumulative, position, budget)
        if cut is None:
            raise Unsplittable(
                f"the text has a stretch of more than {limit} characters without a point "
                "where it may be cut (an HTML tag or entity that long?)"
            )
        end, next_position = cut
        closing = "".join(f"</{name}>" for name, _ in reversed(markup.open_tags(end)))
        parts.append(prefix + text[position:end] + closing)
        prefix = "".join(opening for _, opening in markup.open_tags(next_position))
        position = next_position
    return parts


def _visible(part: str, parse_mode: str | None) -> str:
    """Roughly what Telegram shows of ``part``: enough to tell an empty message."""
    if parse_mode == "HTML":
        return re.sub(r"<[^<>]*>", "", part)
    return part


def _find_cut(
    text: str, markup: _Markup, cumulative: Sequence[int], position: int, budget: int
) -> tuple[int, int] | None:
    """Where the part starting at ``position`` ends, and where the next one starts.

    The closing tags a cut needs count against ``budget`` too; they depend on
    where the cut falls, so the search window shrinks until a cut fits.
    """
    reach = budget
    while reach > 0:
        # The furthest end whose source fits in reach.
        furthest = bisect.bisect_right(cumulative, cumulative[position] + reach) - 1
        if furthest <= position:
            return None
        cut = _best_cut(text, markup, cumulative, position, furthest)
        if cut is None:
            return None
        end, _ = cut
        closing = sum(len(name) + 3 for name, _ in markup.open_tags(end))
        overflow = cumulative[end] - cumulative[position] + closing - budget
        if overflow <= 0:
            return cut
        reach = min(reach - 1, cumulative[end] - cumulative[position] - overflow)
    return None


def _best_cut(
    text: str, markup: _Markup, cumulative: Sequence[int], position: int, furthest: int
) -> tuple[int, int] | None:
    half = (cumulative[furthest] - cumulative[position]) / 2
    window = text[position : furthest + 1]
    first_visible = position + len(window) - len(window.lstrip())
    best: dict[int, tuple[int, int]] = {}
    for match in _WHITESPACE.finditer(text, position, furthest + 1):
        start = match.start()
        end = match.end()
        while end < len(text) and text[end].isspace():
            end += 1
        if start <= first_visible:
            continue
        if not (markup.may_cut(start) and markup.may_cut(end)):
            continue
        run = text[start:end]
        newlines = run.count("\n")
        rank = 2 if newlines >= 2 else 1 if newlines == 1 else 0
        best[rank] = (start, end)
    for rank in (2, 1, 0):
        cut = best.get(rank)
        if cut is not None and cumulative[cut[0]] - cumulative[position] >= half:
            return cut
    if best:
        # Short of half a message everywhere: the latest white space of any kind.
        return max(best.values())
    for end in range(furthest, position, -1):
        if markup.may_cut(end):
            return end, end
    return None

"""What the parse-quality scores read of markdown (``bench.quality_scores``): its word
tokens, its ``#`` headings, and its pipe and HTML tables as rows of cell texts.

``tokens``: markdown → word tokens. HTML comments (``<!-- image -->``), HTML tags, link
targets and all punctuation (``#``, ``|``, emphasis, table separator rows) go; the text
is NFKC-normalised (Arabic presentation forms become letters) and casefolded; a token is
a run of letters, digits and combining marks in any script.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from html.parser import HTMLParser

Table = list[list[str]]
"""A table as rows of raw cell texts."""

# ------------------------------------------------------------------- tokens

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


@functools.cache
def _word_character(character: str) -> bool:
    return unicodedata.category(character)[0] in "LNM"


def normalize(text: str) -> str:
    """NFKC, casefolded text with markdown/HTML markup gone and words separated by spaces."""
    text = _COMMENT.sub(" ", text)
    text = _IMAGE.sub(r" \1 ", text)
    text = _LINK.sub(r" \1 ", text)
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFKC", html.unescape(text)).casefold()
    return " ".join(
        "".join(character if _word_character(character) else " " for character in text).split()
    )


def tokens(text: str) -> list[str]:
    """The word tokens of markdown (or plain) text, in order."""
    return normalize(text).split()


# ----------------------------------------------------------------- headings

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


def headings(markdown: str) -> list[str]:
    """The normalised texts of the ATX (``#``) heading lines outside code fences."""
    found: list[str] = []
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if match and (text := normalize(match.group(1))):
            found.append(text)
    return found


# ------------------------------------------------------------------- tables

_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_ROW = re.compile(r"^\s*\|?(\s*:?-+:?\s*\|)*\s*:?-+:?\s*\|?\s*$")
_PIPE = re.compile(r"(?<!\\)\|")


def markdown_tables(markdown: str) -> list[Table]:
    """The pipe tables of markdown: consecutive ``| … |`` lines, separator rows dropped."""
    tables: list[Table] = []
    current: Table = []
    in_fence = False
    for line in [*markdown.splitlines(), ""]:
        if _FENCE.match(line):
            in_fence = not in_fence
        if not in_fence and _TABLE_ROW.match(line):
            if not _SEPARATOR_ROW.match(line):
                current.append([cell.strip() for cell in _PIPE.split(line.strip())[1:-1]])
            continue
        if current:
            tables.append(current)
            current = []
    return tables


class _HtmlTables(HTMLParser):
    """Collects the cells of every ``<table>`` (nested tables become tables of their own)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self._open: list[Table] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th") and self._open:
            if not self._open[-1]:
                self._open[-1].append([])
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._open:
            self._open[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_tables(markdown: str) -> list[Table]:
    """The cells of the HTML ``<table>`` elements in (markdown) text."""
    if "<table" not in markdown.lower():
        return []
    parser = _HtmlTables()
    parser.feed(markdown)
    parser.close()
    return [table for table in parser.tables if any(table)]


def output_tables(markdown: str) -> list[Table]:
    """Every table a parser's output has, pipe tables and HTML tables."""
    return markdown_tables(markdown) + html_tables(markdown)

"""Text operations on converted pages: running headers and footers, tables, plain text.

Everything here works on the markdown of pages after conversion, whatever the source
format: split a deck or workbook into pages, drop lines repeated at the top or bottom of
most pages, render markdown tables as HTML, and turn markdown into plain text.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

EDGE_LINES = 3
"""How many non-blank lines at each end of a page may be a running header or footer."""
RUNNING_LINE_SHARE = 0.6
"""A line is a running header/footer when it is at the same end of this share of pages."""

_SLIDE_MARKER = re.compile(r"^<!-- Slide number: (\d+) -->$", re.MULTILINE)
_SLIDE_NOTES = re.compile(
    r"^### Notes:\n.*?(?=^<!-- Slide number: \d+ -->$|\Z)", re.MULTILINE | re.DOTALL
)
_SHEET_HEADING = re.compile(r"^## ", re.MULTILINE)
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_CELL = re.compile(r"^\s*:?-*:?\s*$")
_PANDAS_BLANKS = frozenset({"NaN", "NaT"})
_PANDAS_UNNAMED = re.compile(r"^Unnamed: \d+(?:_level_\d+)?$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_COMMENT_LINE = re.compile(r"^\s*<!--.*-->\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)(.*?)(?:\s+#+)?\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_=])(?:\s*\1){2,}\s*$")
_QUOTE = re.compile(r"^(\s{0,3}>\s?)+")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(?:\[[ xX]\]\s+)?")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()]|\([^)]*\))*\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_STRONG = re.compile(r"(?<![\w*_])(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?![\w*_])")
_EMPHASIS = re.compile(r"(?<![\w*_\\])([*_])(?=[^\s*_])(.+?)(?<=[^\s\\*_])\1(?![\w*_])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_INLINE_TAG = re.compile(
    r"</?(?:b|i|u|em|strong|span|sup|sub|small|mark|p|div|font|s|del|ins)(?:\s[^>]*)?>",
    re.IGNORECASE,
)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~<])")
_DIGITS = re.compile(r"\d+")
_NON_WORD_EDGES = re.compile(r"^[\s*_#>|~-]+|[\s*_#>|~-]+$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RunningLines:
    """Pages without their running headers/footers, and how many lines were dropped."""

    pages: list[str]
    headers_removed: int
    footers_removed: int


def split_slides(markdown: str) -> list[str] | None:
    """A deck's markdown split at markitdown's ``<!-- Slide number: N -->`` markers."""
    starts = [match.start() for match in _SLIDE_MARKER.finditer(markdown)]
    if not starts:
        return None
    return _split_at(markdown, starts)


def split_sheets(markdown: str) -> list[str] | None:
    """A workbook's markdown split at markitdown's ``## SheetName`` headings."""
    starts = [match.start() for match in _SHEET_HEADING.finditer(markdown)]
    if not starts:
        return None
    return _split_at(markdown, starts)


def drop_slide_notes(markdown: str) -> str:
    """A deck's markdown without the speaker notes markitdown appends to each slide.

    The notes (``### Notes:`` to the next slide) are the presenter's, not the slide's
    content; like layout-aware parsers, docbatch gives what the slides show.
    """
    return _SLIDE_NOTES.sub("", markdown).strip()


def clear_blank_cells(markdown: str) -> str:
    """A workbook's markdown without the words pandas writes into blank cells.

    markitdown renders sheets through pandas, which fills a blank cell with ``NaN``
    (``NaT`` in a date column) and a blank header cell with ``Unnamed: N``; none of them
    is in the file. Only cells that are exactly such a word are cleared.
    """
    lines = markdown.split("\n")
    header = True
    for number, line in enumerate(lines):
        if not _TABLE_ROW.match(line):
            header = True
            continue
        cells = [cell.strip() for cell in _CELL_SPLIT.split(line.strip())[1:-1]]
        cleared = [
            "" if cell in _PANDAS_BLANKS or (header and _PANDAS_UNNAMED.match(cell)) else cell
            for cell in cells
        ]
        header = False
        if cleared != cells:
            lines[number] = "| " + " | ".join(cleared) + " |"
    return "\n".join(lines)


def remove_running_lines(pages: Sequence[str], *, headers: bool, footers: bool) -> RunningLines:
    """Drop lines repeated at the top (``headers``) or bottom (``footers``) of most pages.

    A line counts when its normalised form (case, spacing and digits ignored, so
    "Page 3 of 9" matches "Page 4 of 9") is among the first or last ``EDGE_LINES``
    non-blank lines (a third of a shorter page) of at least ``RUNNING_LINE_SHARE`` of the
    pages, and of two pages at least. Table rows are never dropped: a table continued
    across pages repeats its head.
    """
    result = list(pages)
    if len(pages) < 2 or not (headers or footers):
        return RunningLines(result, 0, 0)
    threshold = max(2, math.ceil(RUNNING_LINE_SHARE * len(pages)))
    tops: Counter[str] = Counter()
    bottoms: Counter[str] = Counter()
    edges = [_edges(page) for page in pages]
    for lines, top, bottom in edges:
        tops.update({_running_key(lines[i]) for i in top} - {""})
        bottoms.update({_running_key(lines[i]) for i in bottom} - {""})
    header_keys = {key for key, count in tops.items() if count >= threshold} if headers else set()
    footer_keys = (
        {key for key, count in bottoms.items() if count >= threshold} if footers else set()
    )
    headers_removed = footers_removed = 0
    for position, (lines, top, bottom) in enumerate(edges):
        drop: set[int] = set()
        for i in top:
            if _running_key(lines[i]) in header_keys:
                drop.add(i)
                headers_removed += 1
        for i in bottom:
            if i not in drop and _running_key(lines[i]) in footer_keys:
                drop.add(i)
                footers_removed += 1
        if drop:
            kept = [line for i, line in enumerate(lines) if i not in drop]
            result[position] = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return RunningLines(result, headers_removed, footers_removed)


def tables_to_html(markdown: str) -> str:
    """Markdown with every pipe table rendered as an HTML ``<table>``."""
    lines = markdown.split("\n")
    out: list[str] = []
    position = 0
    in_fence = False
    while position < len(lines):
        line = lines[position]
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence or not _TABLE_ROW.match(line):
            out.append(line)
            position += 1
            continue
        end = position
        while end < len(lines) and _TABLE_ROW.match(lines[end]):
            end += 1
        out.append(_table_html(lines[position:end]))
        position = end
    return "\n".join(out)


def markdown_to_text(markdown: str, *, plain_source: bool = False) -> str:
    """Plain text of ``markdown``: tables as tab-separated rows, no markup.

    With ``plain_source`` (text that only looks like markdown where a converter made a
    table, such as a PDF's text layer or OCR output) only tables and comments change,
    so asterisks and underscores of the original text survive.
    """
    text = _COMMENT.sub("", markdown)
    out: list[str] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line) and not plain_source:
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line)
        elif _TABLE_ROW.match(line):
            cells = _cells(line)
            if not _is_separator(cells):
                row = [c if plain_source else _plain_inline(c) for c in cells]
                out.append("\t".join(row).rstrip())
        elif plain_source:
            out.append(line.rstrip())
        else:
            out.append(_plain_line(line))
    joined = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


# ------------------------------------------------------------------ internals


def _split_at(markdown: str, starts: list[int]) -> list[str]:
    pieces = []
    preamble = markdown[: starts[0]].strip()
    bounds = [*starts, len(markdown)]
    for first, last in itertools.pairwise(bounds):
        pieces.append(markdown[first:last].strip())
    if preamble:
        pieces[0] = f"{preamble}\n\n{pieces[0]}"
    return pieces


def _edges(page: str) -> tuple[list[str], list[int], list[int]]:
    """A page's lines and the indices of its first and last non-blank candidate lines."""
    lines = page.split("\n")
    # Converter markers such as "<!-- Slide number: 3 -->" are structure, not headers.
    candidates = [
        i for i, line in enumerate(lines) if line.strip() and not _COMMENT_LINE.match(line)
    ]
    # Each end takes at most a third of a short page, so the body is never an "edge".
    size = min(EDGE_LINES, max(1, len(candidates) // 3))
    top = [i for i in candidates[:size] if not _TABLE_ROW.match(lines[i])]
    bottom = [i for i in candidates[-size:] if not _TABLE_ROW.match(lines[i])]
    return lines, top, bottom


def _running_key(line: str) -> str:
    key = _NON_WORD_EDGES.sub("", line)
    key = _DIGITS.sub("0", key)
    return _SPACES.sub(" ", key).strip().casefold()


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [cell.strip().replace("\\|", "|") for cell in _CELL_SPLIT.split(inner)]


def _is_separator(cells: list[str]) -> bool:
    return any("-" in cell for cell in cells) and all(_SEPARATOR_CELL.match(c) for c in cells)


def _table_html(rows: list[str]) -> str:
    parsed = [_cells(row) for row in rows]
    head: list[str] | None = None
    if len(parsed) >= 2 and _is_separator(parsed[1]):
        head, body = parsed[0], parsed[2:]
    else:
        body = [cells for cells in parsed if not _is_separator(cells)]
    out = ["<table>"]
    if head is not None:
        cells = "".join(f"<th>{html.escape(cell)}</th>" for cell in head)
        out.append(f"<thead><tr>{cells}</tr></thead>")
    out.append("<tbody>")
    for row in body:
        cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        out.append(f"<tr>{cells}</tr>")
    out.append("</tbody>")
    out.append("</table>")
    return "\n".join(out)


def _plain_line(line: str) -> str:
    if _RULE.match(line):
        return ""
    line = _QUOTE.sub("", line)
    heading = _HEADING.match(line)
    if heading:
        line = heading.group(1)
    line = _BULLET.sub(r"\1", line)
    return _plain_inline(line).rstrip()


def _plain_inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE_SPAN.sub(r"\1", text)
    text = _STRONG.sub(r"\2", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = _STRIKE.sub(r"\1", text)
    text = _BREAK.sub(" ", text)
    text = _INLINE_TAG.sub("", text)
    return _ESCAPE.sub(r"\1", text)

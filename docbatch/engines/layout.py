"""PDF page layout: PDFium's characters → words, lines, columns, paragraphs, headings, tables.

One page's text layer is read character by character through PDFium (pypdfium2): the
Unicode value, the glyph box, the font size and weight. From those:

- **words** split where the text layer has a space, a line break or a horizontal gap wider
  than a space of that font (PDFs often position words without any space character);
- **ruling lines** are the thin horizontal and vertical paths and rectangle edges;
- **tables** are the regions that ruling lines frame (a top and a bottom rule of one
  width, as LaTeX's ``booktabs`` and ``\\hline`` draw them, a header row above the first
  rule included) or, without rules, runs of lines whose cells line up in columns; their
  columns are the x ranges no word of a regular row crosses, their rows the lines;
- **reading order** is a recursive XY cut: the page is split at wide vertical gutters
  (columns) and horizontal gaps, tables kept whole, and each part is read top to bottom;
- **paragraphs** are runs of lines with line-sized gaps, joined with hyphenation undone;
- **headings** are short paragraphs set larger than the body text (levelled by size), or
  short bold paragraphs that are not sentences (``3.2 Results``).

Right-to-left lines (Arabic, Hebrew) keep PDFium's logical character order, with the
letters of a ligature glyph (lam-alef) put back in reading order. Text set at an angle
(a margin stamp, a watermark) is read apart and follows the page's text.

Scanned pages take the same path from Tesseract's words (``layout_scan``), with ruling
lines found as runs of dark pixels in the image.

The result is markdown: ``#`` headings, paragraphs, and pipe tables. Everything here is
pure computation on one page (no I/O but PDFium), about 20–40 ms for a dense page.

The parts: ``layout_model`` (tuning and the page's vocabulary), ``layout_sources`` (words
and ruling lines from PDFium or from a scan), ``layout_tables``; this module builds lines,
orders blocks and renders the markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from docbatch.engines.layout_model import (
    CELL_GAP_EM,
    COLUMN_GUTTER_EM,
    HEADING_SIZE_RATIO,
    LAYOUT_VERSION,
    MAX_HEADING_WORDS,
    MIN_PROSE_CHARACTERS,
    SCAN_DEFAULT_DPI,
    SCAN_HEADING_SIZE_RATIO,
    Block,
    Line,
    PageLayout,
    Rule,
    Word,
    weighted_size,
)
from docbatch.engines.layout_sources import Glyphs, page_rules, page_words, scan_rules, scan_words
from docbatch.engines.layout_tables import find_tables, inside_table

__all__ = [
    "LAYOUT_VERSION",
    "PageLayout",
    "layout_page",
    "layout_pdf_page",
    "layout_scan",
    "layout_words",
]


_SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.|[IVX]+\.)$")
_SENTENCE_END = re.compile(r"[.:;,]$")
_SENTENCES = re.compile(r"[a-z]{2}[.!?] +[A-Z]")
_HYPHENATED = re.compile(r"[^\W\d_]-$")


def layout_pdf_page(document: Any, index: int, *, skip_diagonal: bool = False) -> PageLayout:
    """The layout of page ``index`` of an open PDFium document, without its diagonal text
    (a watermark) when ``skip_diagonal``."""
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            return layout_page(page, textpage, skip_diagonal=skip_diagonal)
        finally:
            textpage.close()
    finally:
        page.close()


def layout_scan(words: Iterable[Any], image: Any, dpi: int | None) -> PageLayout:
    """The markdown of a scanned page from its OCR words and the rules drawn on it."""
    resolution = dpi or SCAN_DEFAULT_DPI
    return layout_words(
        scan_words(words, resolution),
        scan_rules(image, resolution),
        heading_ratio=SCAN_HEADING_SIZE_RATIO,
    )


# ------------------------------------------------------------------ words → lines


def build_lines(words: Sequence[Word], rules: Sequence[Rule] = ()) -> list[Line]:
    """Words grouped into lines: same baseline band, split at gaps wider than a cell gap
    and at vertical rules (cell borders)."""
    verticals = [r for r in rules if not r.horizontal]
    ordered = sorted(words, key=lambda w: (w.top + w.bottom) / 2)
    bands: list[list[Word]] = []
    band_top = band_bottom = 0.0
    for word in ordered:
        middle = (word.top + word.bottom) / 2
        if bands and band_top <= middle <= band_bottom:
            bands[-1].append(word)
            band_top = min(band_top, word.top + word.height * 0.25)
            band_bottom = max(band_bottom, word.bottom - word.height * 0.25)
            continue
        bands.append([word])
        band_top = word.top + word.height * 0.25
        band_bottom = word.bottom - word.height * 0.25
    lines: list[Line] = []
    for band in bands:
        band.sort(key=lambda w: w.x0)
        current = [band[0]]
        for word in band[1:]:
            previous = current[-1]
            gap = word.x0 - previous.x1
            limit = CELL_GAP_EM * max(previous.size, word.size, 1.0)
            if (
                len(current) == 1
                and _SECTION_NUMBER.match(previous.text)
                and word.text[:1].isalpha()
            ):
                limit *= 3  # "5.1  Results": a section number and its title, a quad apart
            if gap > limit or gap < -previous.size or _ruled_between(verticals, previous, word):
                lines.append(Line(current))
                current = [word]
            else:
                current.append(word)
        lines.append(Line(current))
    return lines


def _ruled_between(verticals: Sequence[Rule], left: Word, right: Word) -> bool:
    middle = (right.top + right.bottom) / 2
    return any(
        left.x1 - 1 <= rule.x0 and rule.x1 <= right.x0 + 1 and rule.top <= middle <= rule.bottom
        for rule in verticals
    )


# ------------------------------------------------------------------ reading order


def reading_order(blocks: list[Block], body_size: float) -> list[Block]:
    """Recursive XY cut: wide vertical gutters and horizontal gaps split the page."""
    if len(blocks) <= 1:
        return blocks
    gutter = COLUMN_GUTTER_EM * max(body_size, 6.0)
    vertical = [g for g in _gaps([(b.x0, b.x1) for b in blocks], gutter) if _columns_ok(blocks, g)]
    horizontal = _gaps([(b.top, b.bottom) for b in blocks], 0.0)
    # One cut per level, the widest: columns first, else the widest band of space. Cutting
    # at every horizontal gap would slice two columns whose lines share baselines.
    if vertical:
        axis, gap = "x", max(vertical, key=lambda g: g[1] - g[0])
    elif horizontal:
        axis, gap = "y", max(horizontal, key=lambda g: g[1] - g[0])
    else:
        return sorted(blocks, key=lambda b: (b.top, b.x0))
    parts: list[list[Block]] = [[], []]
    for block in blocks:
        start = block.x0 if axis == "x" else block.top
        parts[start >= gap[1] - 0.01].append(block)
    if axis == "x" and _mostly_rtl(blocks):
        parts.reverse()  # right-to-left text: the rightmost column is read first
    ordered: list[Block] = []
    for part in parts:
        ordered.extend(reading_order(part, body_size) if len(part) < len(blocks) else part)
    return ordered


def _mostly_rtl(blocks: Sequence[Block]) -> bool:
    rtl = total = 0
    for block in blocks:
        if block.line is not None:
            for word in block.line.words:
                total += len(word.text)
                rtl += len(word.text) if word.rtl else 0
    return rtl * 2 > total


def _gaps(spans: Sequence[tuple[float, float]], minimum: float) -> list[tuple[float, float]]:
    ordered = sorted(spans)
    gaps = []
    reach = ordered[0][1]
    for start, end in ordered[1:]:
        if start - reach > minimum:
            gaps.append((reach, start))
        reach = max(reach, end)
    return gaps


def _columns_ok(blocks: Sequence[Block], gap: tuple[float, float]) -> bool:
    """A vertical cut must leave real text on both sides (not bullets or line numbers)."""
    left = [b for b in blocks if b.x1 <= gap[0] + 0.01]
    right = [b for b in blocks if b.x0 >= gap[1] - 0.01]
    return _substantial(left) and _substantial(right)


def _substantial(blocks: Sequence[Block]) -> bool:
    characters = 0
    for block in blocks:
        if block.table is not None:
            return True
        if block.line is not None:
            characters += sum(len(w.text) for w in block.line.words)
    return characters >= 12


# ------------------------------------------------------------------ page → markdown


def layout_page(page: Any, textpage: Any, *, skip_diagonal: bool = False) -> PageLayout:
    """The markdown of one PDF page, with its headings and tables."""
    glyphs = Glyphs(skip_diagonal=skip_diagonal)
    words = page_words(page, textpage, glyphs)
    if not words:
        return PageLayout(glyphs.turned_text(), unmapped=glyphs.unmapped, characters=glyphs.visible)
    found = layout_words(words, page_rules(page))
    markdown = found.markdown
    if turned := glyphs.turned_text():
        markdown = f"{markdown}\n\n{turned}" if markdown else turned
    return PageLayout(
        markdown,
        tables=found.tables,
        headings=found.headings,
        words=found.words,
        unmapped=glyphs.unmapped,
        characters=glyphs.visible,
    )


def layout_words(
    words: Sequence[Word], rules: Sequence[Rule], *, heading_ratio: float = HEADING_SIZE_RATIO
) -> PageLayout:
    """The markdown of a page's words and ruling lines, from a text layer or from OCR."""
    if not words:
        return PageLayout("")
    body_size = weighted_size(words)
    lines = build_lines(words, rules)
    tables = find_tables(lines, rules, body_size)
    blocks: list[Block] = [Block(t.x0, t.x1, t.top, t.bottom, table=t) for t in tables]
    prose: list[Line] = []
    for line in lines:
        if not any(inside_table(line, t) for t in tables):
            blocks.append(Block(line.x0, line.x1, line.top, line.bottom, line=line))
            prose.append(line)
    ordered = reading_order(blocks, body_size)
    # Headings stand out from the running text, not from tables set smaller.
    prose_words = [w for line in prose for w in line.words]
    if sum(len(w.text) for w in prose_words) >= MIN_PROSE_CHARACTERS:
        body_size = weighted_size(prose_words)
    heading_sizes = _heading_sizes(prose, body_size, heading_ratio)
    markdown, headings = _render(ordered, body_size, heading_sizes)
    return PageLayout(markdown, tables=len(tables), headings=headings, words=len(words))


def _heading_sizes(lines: Sequence[Line], body_size: float, ratio: float) -> list[float]:
    """Font sizes larger than the body's that headings use, largest first."""
    sizes = {
        round(line.size, 1)
        for line in lines
        if line.size >= body_size * ratio and len(line.words) <= MAX_HEADING_WORDS
    }
    return sorted(sizes, reverse=True)


def _render(
    blocks: Sequence[Block], body_size: float, heading_sizes: Sequence[float]
) -> tuple[str, int]:
    out: list[str] = []
    paragraph: list[Line] = []
    headings = 0

    def close() -> None:
        nonlocal headings
        if not paragraph:
            return
        text = _join_lines(paragraph)
        level = _heading_level(paragraph, text, body_size, heading_sizes)
        if level:
            headings += 1
            out.append("#" * level + " " + text)
        else:
            out.append(text)
        paragraph.clear()

    for block in blocks:
        if block.table is not None:
            close()
            out.append(_pipe_table(block.table.rows))
            continue
        line = block.line
        assert line is not None
        if paragraph and not _continues(paragraph[-1], line, body_size):
            close()
        paragraph.append(line)
    close()
    return "\n\n".join(part for part in out if part.strip()), headings


def _continues(previous: Line, line: Line, body_size: float) -> bool:
    """Whether ``line`` goes on the paragraph that ``previous`` ends."""
    height = max(previous.bottom - previous.top, 1.0)
    gap = line.top - previous.bottom
    if gap > 0.6 * height or gap < -0.5 * height:
        return False
    if abs(line.size - previous.size) > 0.05 * max(line.size, previous.size):
        return False
    if previous.bold != line.bold and (previous.bold and len(previous.words) <= MAX_HEADING_WORDS):
        return False
    # A line well left of the previous one's start is a new column or item, not a wrap.
    return line.x0 <= previous.x1 and line.x1 >= previous.x0


def _join_lines(lines: Sequence[Line]) -> str:
    """A paragraph's lines as one: a word hyphenated at a line end is made whole, and
    Chinese or Japanese lines join without a space (their text has none)."""
    text = ""
    for line in lines:
        part = line.text()
        if not text:
            text = part
        elif _HYPHENATED.search(text) and part[:1].islower():
            text = text[:-1] + part
        elif _unspaced(text[-1]) and _unspaced(part[0]):
            text += part
        else:
            text = f"{text} {part}"
    return text


def _unspaced(character: str) -> bool:
    """Whether a script writes words without spaces: CJK ideographs, kana, CJK punctuation."""
    code = ord(character)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xF900 <= code <= 0xFAFF
        or 0xFF00 <= code <= 0xFF60  # full-width forms
    )


def _heading_level(
    lines: Sequence[Line], text: str, body_size: float, heading_sizes: Sequence[float]
) -> int:
    words = text.split()
    if not words or len(words) > MAX_HEADING_WORDS or len(lines) > 3:
        return 0
    if _SENTENCES.search(text) or (text.endswith(".") and len(words) > 6):
        return 0  # sentences: a lead paragraph set large, not a title
    if not any(ch.isalpha() for ch in text):
        return 0
    size = weighted_size(w for line in lines for w in line.words)
    if round(size, 1) in heading_sizes:
        return min(heading_sizes.index(round(size, 1)) + 1, 3)
    # A paragraph of its own, all bold, short and not a sentence: a run-in title.
    bold = all(line.bold for line in lines)
    short = len(lines) <= 2 and len(words) <= 12 and not _SENTENCE_END.search(text)
    if bold and short and size >= body_size * 0.95:
        return min(len(heading_sizes) + 1, 3)
    return 0


def _pipe_table(rows: Sequence[Sequence[str]]) -> str:
    width = max(len(row) for row in rows)
    lines = []
    for index, row in enumerate(rows):
        cells = [cell.replace("|", "\\|") for cell in row] + [""] * (width - len(row))
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("|" + "|".join(["---"] * width) + "|")
    return "\n".join(lines)

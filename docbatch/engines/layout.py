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
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from docbatch.engines.pdf import is_diagonal

LAYOUT_VERSION = "1"
"""Bumped whenever the layout rules change what a page's markdown is."""

# --- tuning, in multiples of the font size (em) unless said otherwise -------------------
WORD_GAP_EM = 0.15
"""A horizontal gap between two glyphs wider than this starts a new word."""
CELL_GAP_EM = 0.9
"""A gap wider than this inside a line separates two cells (or two columns)."""
RULE_THICKNESS = 2.0
"""Paths at most this thick (points) are ruling lines."""
MIN_RULE_LENGTH = 8.0
MAX_PATHS = 5000
"""Paths looked at per page for rules; a drawing with more is not a page of tables."""
MAX_SHADED_ROW = 30.0
"""Filled rectangles at most this tall (points) are shaded table rows; their edges rule."""
COLUMN_GUTTER_EM = 0.9
"""The narrowest vertical gap between two text columns."""
TURNED_TEXT = 0.1
"""Glyphs whose text matrix turns them more than this (sin ÷ cos) are set at an angle."""
HEADING_SIZE_RATIO = 1.08
"""A paragraph set at least this much larger than the body text is a heading."""
SCAN_HEADING_SIZE_RATIO = 1.35
"""On scans sizes are measured from pixels, so a heading must stand out more."""
SCAN_RULE_INCHES = 0.3
SCAN_RULE_THICKNESS_INCHES = 0.03
SCAN_DEFAULT_DPI = 300
"""Assumed for an image that does not declare its resolution."""
SCAN_LINE_TO_SIZE = 1.2
"""A text line's height (ascender to descender) per point of font size."""
MAX_HEADING_WORDS = 20
MIN_PROSE_CHARACTERS = 200
"""Text outside tables from which the body size is measured, when a page has that much."""
EMPTY_BETWEEN_TABLES_EM = 2.5
"""Blank space taller than this between two rules separates two tables."""
MAX_LINES_PER_CELL = 3
"""A ruled band with more text rows than this holds rows, not one cell's lines."""

_RTL_BIDI = frozenset({"R", "AL"})
_UNMAPPED_CODES = frozenset({0, 0xFFFD, 0xFFFE, 0xFFFF})
_LINE_END_HYPHEN = 0x02
_BOLD_FONT = re.compile(
    # Named weights, and TeX's bold faces: CMBX10, SFBX1000 (cm-super), ptmb8t (Times).
    r"bold|black|heavy|semibold|demi|bx\d|bxti|bxsl|^(?:[a-z]{6}\+)?p[a-z]{2}b\d|[.,-]b\b",
    re.IGNORECASE,
)
_SECTION_NUMBER = re.compile(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.|[IVX]+\.)$")
_SENTENCE_END = re.compile(r"[.:;,]$")
_SENTENCES = re.compile(r"[a-z]{2}[.!?] +[A-Z]")
_HYPHENATED = re.compile(r"[^\W\d_]-$")


@dataclass(slots=True)
class Word:
    """A run of glyphs between spaces, in page coordinates with y growing downwards."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    bold: bool
    rtl: bool
    order: int
    """Position in PDFium's character stream (logical order within a right-to-left line)."""

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass(slots=True)
class Line:
    """Words on one baseline within one column, left to right (or in logical RTL order)."""

    words: list[Word]
    x0: float = 0.0
    x1: float = 0.0
    top: float = 0.0
    bottom: float = 0.0

    def __post_init__(self) -> None:
        self.x0 = min(w.x0 for w in self.words)
        self.x1 = max(w.x1 for w in self.words)
        self.top = min(w.top for w in self.words)
        self.bottom = max(w.bottom for w in self.words)

    @property
    def size(self) -> float:
        return _weighted_size(self.words)

    @property
    def rtl(self) -> bool:
        letters = sum(len(w.text) for w in self.words if w.rtl)
        return letters * 2 > sum(len(w.text) for w in self.words)

    @property
    def bold(self) -> bool:
        return all(w.bold for w in self.words)

    def text(self) -> str:
        words = sorted(self.words, key=lambda w: w.order) if self.rtl else self.words
        return " ".join(w.text for w in words)


@dataclass(slots=True)
class Rule:
    """A ruling line: horizontal (``y0 == y1`` up to thickness) or vertical."""

    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def horizontal(self) -> bool:
        return (self.x1 - self.x0) >= (self.bottom - self.top)


@dataclass(slots=True)
class Table:
    """A table region and its cells (rows of cell texts)."""

    x0: float
    x1: float
    top: float
    bottom: float
    rows: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class _Block:
    """A unit of reading order: a line or a whole table."""

    x0: float
    x1: float
    top: float
    bottom: float
    line: Line | None = None
    table: Table | None = None


@dataclass(frozen=True, slots=True)
class PageLayout:
    """One page's layout as markdown, with what it found."""

    markdown: str
    tables: int = 0
    headings: int = 0
    words: int = 0
    unmapped: int = 0
    """Glyphs whose font maps them to no text (no Unicode value, or a control code)."""
    characters: int = 0
    """Visible glyphs, mapped or not."""

    @property
    def mostly_unmapped(self) -> bool:
        """Whether at least half of the page's glyphs have no text (OCR reads it better)."""
        return self.unmapped > 0 and self.unmapped * 2 >= self.characters


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


# ------------------------------------------------------------------ characters → words


@dataclass(slots=True)
class _Glyphs:
    visible: int = 0
    unmapped: int = 0
    turned: list[str] = field(default_factory=list)
    """The text set at an angle (a margin stamp, a watermark), in stream order."""
    skip_diagonal: bool = False
    """Leave out glyphs neither horizontal nor vertical (``skip_diagonal_text``)."""

    def turned_text(self) -> str:
        return " ".join("".join(self.turned).split())


def page_words(page: Any, textpage: Any, glyphs: _Glyphs | None = None) -> list[Word]:
    """The words of one page, in PDFium's order (y grows downwards from the page top).

    ``glyphs``, when given, counts the visible glyphs and those without text.
    """
    glyphs = glyphs if glyphs is not None else _Glyphs()
    import pypdfium2.raw as pdfium_c

    height = page.get_height()
    count = pdfium_c.FPDFText_CountChars(textpage)
    rect = pdfium_c.FS_RECTF()
    matrix = pdfium_c.FS_MATRIX()
    font_name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    words: list[Word] = []
    chars: list[str] = []
    boxes: list[tuple[float, float, float, float]] = []
    sizes: list[float] = []
    bold_votes = 0
    start = 0
    last_right = last_top = last_bottom = 0.0
    last_size = last_left_edge = 0.0
    font_cache: dict[bytes, bool] = {}

    def flush() -> None:
        nonlocal bold_votes
        if chars:
            text = _fix_ligature_order(chars, boxes)
            text = unicodedata.normalize("NFKC", text) if _needs_nfkc(text) else text
            if text.strip():
                rtl = any(unicodedata.bidirectional(ch) in _RTL_BIDI for ch in text)
                words.append(
                    Word(
                        text=text.strip(),
                        x0=min(b[0] for b in boxes),
                        x1=max(b[1] for b in boxes),
                        top=min(b[2] for b in boxes),
                        bottom=max(b[3] for b in boxes),
                        size=statistics.median(sizes),
                        bold=bold_votes * 2 > len(chars),
                        rtl=rtl,
                        order=start,
                    )
                )
        chars.clear()
        boxes.clear()
        sizes.clear()
        bold_votes = 0

    index = -1
    while index + 1 < count:
        index += 1
        code = pdfium_c.FPDFText_GetUnicode(textpage, index)
        if 0xDC00 <= code <= 0xDFFF:
            continue
        if code == _LINE_END_HYPHEN:
            # PDFium's mark for a hyphen that breaks a word at the end of a line.
            if chars:
                chars.append("-")
                boxes.append(boxes[-1])
                sizes.append(sizes[-1])
            flush()
            continue
        if code in _UNMAPPED_CODES or (code < 0x20 and code not in (9, 10, 13)):
            if not pdfium_c.FPDFText_IsGenerated(textpage, index):
                glyphs.visible += 1
                glyphs.unmapped += 1
            continue
        if 0xD800 <= code <= 0xDBFF:
            # UTF-16: the low surrogate is the next "character" and shares the box.
            low = pdfium_c.FPDFText_GetUnicode(textpage, index + 1) if index + 1 < count else 0
            if not 0xDC00 <= low <= 0xDFFF:
                continue
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        ch = chr(code)
        if ch.isspace() or code == 0xA0 or unicodedata.category(ch) in ("Cc", "Cf"):
            flush()
            if glyphs.turned and glyphs.turned[-1] != " ":
                glyphs.turned.append(" ")
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage, index, rect):
            continue
        glyphs.visible += 1
        left, right = rect.left, rect.right
        top, bottom = height - rect.top, height - rect.bottom
        # The font size is in text space; the text matrix scales it to the page.
        size = pdfium_c.FPDFText_GetFontSize(textpage, index)
        if pdfium_c.FPDFText_GetMatrix(textpage, index, matrix):
            size *= abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5
            if abs(matrix.b) > TURNED_TEXT * abs(matrix.a) or abs(matrix.c) > TURNED_TEXT * abs(
                matrix.d
            ):
                # Text at an angle is read on its own, never mixed into the lines.
                flush()
                if not (glyphs.skip_diagonal and is_diagonal(matrix.a, matrix.b)):
                    glyphs.turned.append(ch)
                continue
        if size <= 0:
            size = bottom - top
        if chars:
            gap_limit = WORD_GAP_EM * max(size, last_size)
            rtl_char = unicodedata.bidirectional(ch) in _RTL_BIDI
            # A glyph left of the previous one starts a word unless the text runs RTL.
            gap = (last_left_edge - right) if rtl_char else (left - last_right)
            same_line = top < last_bottom and bottom > last_top
            if not same_line or gap > gap_limit or (not rtl_char and left < last_right - size):
                flush()
        if not chars:
            start = index
        name_length = pdfium_c.FPDFText_GetFontInfo(
            textpage, index, font_name, len(font_name), ctypes.byref(flags)
        )
        key = font_name.raw[: max(name_length - 1, 0)]
        bold = font_cache.get(key)
        if bold is None:
            bold = bool(_BOLD_FONT.search(key.decode("latin-1")))
            font_cache[key] = bold
        if bold or pdfium_c.FPDFText_GetFontWeight(textpage, index) >= 600:
            bold_votes += 1
        chars.append(ch)
        boxes.append((left, right, top, bottom))
        sizes.append(size)
        last_right, last_top, last_bottom, last_size = right, top, bottom, size
        last_left_edge = left
    flush()
    return words


def _needs_nfkc(text: str) -> bool:
    return any(ord(ch) >= 0xFB00 or unicodedata.category(ch) == "Lo" for ch in text)


def _fix_ligature_order(chars: Sequence[str], boxes: Sequence[tuple[float, ...]]) -> str:
    """Join glyph texts, reversing the letters of one RTL ligature glyph (lam-alef).

    PDFium reports the letters of a ligature as characters sharing one box; for Arabic it
    gives them in visual order (alef before lam), the reverse of the text's order.
    """
    out = list(chars)
    i = 0
    while i < len(out) - 1:
        j = i
        while j + 1 < len(out) and boxes[j + 1] == boxes[i]:
            j += 1
        if j > i and unicodedata.bidirectional(out[i]) in _RTL_BIDI:
            out[i : j + 1] = reversed(out[i : j + 1])
        i = j + 1
    return "".join(out)


def _weighted_size(words: Iterable[Word]) -> float:
    sizes: Counter[float] = Counter()
    for word in words:
        sizes[round(word.size, 1)] += len(word.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


# ------------------------------------------------------------------ ruling lines


def page_rules(page: Any) -> list[Rule]:
    """Thin horizontal and vertical paths, and the edges of stroked rectangles."""
    import pypdfium2.raw as pdfium_c

    height = page.get_height()
    rules: list[Rule] = []
    paths = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=4)
    for obj in itertools.islice(paths, MAX_PATHS):
        try:
            left, bottom, right, top = obj.get_bounds()
        except Exception:  # a path without bounds draws nothing we can use
            continue
        width, tall = right - left, top - bottom
        y_top, y_bottom = height - top, height - bottom
        if (tall <= RULE_THICKNESS and width >= MIN_RULE_LENGTH) or (
            width <= RULE_THICKNESS and tall >= MIN_RULE_LENGTH
        ):
            rules.append(Rule(left, right, y_top, y_bottom))
            continue
        if width < MIN_RULE_LENGTH or tall < MIN_RULE_LENGTH:
            continue
        filled, stroked = _box_mode(pdfium_c, obj)
        if filled and not stroked and width >= tall and tall <= MAX_SHADED_ROW:
            # A shaded row (a table's header band): its top and bottom edges.
            rules.extend((Rule(left, right, y_top, y_top), Rule(left, right, y_bottom, y_bottom)))
        elif stroked:
            rules.extend(
                (
                    Rule(left, right, y_top, y_top),
                    Rule(left, right, y_bottom, y_bottom),
                    Rule(left, left, y_top, y_bottom),
                    Rule(right, right, y_top, y_bottom),
                )
            )
    return _join_collinear(rules)


def _join_collinear(rules: list[Rule]) -> list[Rule]:
    """Horizontal rules drawn in pieces end to end (cell by cell) as one rule."""
    horizontal = sorted((r for r in rules if r.horizontal), key=lambda r: (round(r.top), r.x0))
    joined: list[Rule] = []
    for rule in horizontal:
        last = joined[-1] if joined else None
        if last is not None and abs(last.top - rule.top) <= 1 and rule.x0 <= last.x1 + 2:
            last.x1 = max(last.x1, rule.x1)
            last.bottom = max(last.bottom, rule.bottom)
        elif last is None or not (abs(last.top - rule.top) <= 1 and rule.x1 <= last.x1):
            joined.append(Rule(rule.x0, rule.x1, rule.top, rule.bottom))
    return joined + [r for r in rules if not r.horizontal]


def _box_mode(pdfium_c: Any, obj: Any) -> tuple[bool, bool]:
    """Whether a path of at most a rectangle's segments is filled, and whether stroked."""
    fill = ctypes.c_int()
    stroke = ctypes.c_int()
    if pdfium_c.FPDFPath_CountSegments(obj.raw) > 6 or not pdfium_c.FPDFPath_GetDrawMode(
        obj.raw, ctypes.byref(fill), ctypes.byref(stroke)
    ):
        return False, False
    return bool(fill.value), bool(stroke.value)


# ------------------------------------------------------------------ scanned pages


def scan_rules(image: Any, dpi: int) -> list[Rule]:
    """The ruling lines of a scanned page: long, thin runs of dark pixels, in points."""
    import numpy as np

    dark = np.asarray(image.convert("L")) < 128
    scale = 72.0 / dpi
    length = max(int(SCAN_RULE_INCHES * dpi), 8)
    thickness = max(int(SCAN_RULE_THICKNESS_INCHES * dpi), 2)
    rules = [
        Rule(x0 * scale, x1 * scale, y0 * scale, y1 * scale)
        for x0, x1, y0, y1 in _pixel_runs(np, dark, length, thickness)
    ]
    rules += [
        Rule(x0 * scale, x1 * scale, y0 * scale, y1 * scale)
        for y0, y1, x0, x1 in _pixel_runs(np, dark.T, length, thickness)
    ]
    return _join_collinear(rules)


def _pixel_runs(np: Any, dark: Any, length: int, thickness: int) -> list[tuple[int, int, int, int]]:
    """Runs of at least ``length`` dark pixels along rows, stacked rows merged: (x0, x1,
    y0, y1) of those at most ``thickness`` rows thick."""
    candidates = np.flatnonzero(np.count_nonzero(dark, axis=1) >= length)
    open_runs: list[list[int]] = []  # x0, x1, y0, y1
    done: list[list[int]] = []
    for y in candidates:
        row = np.concatenate(([0], dark[y].view(np.uint8), [0]))
        edges = np.flatnonzero(np.diff(row))
        runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        still_open = []
        for x0, x1 in (run for run in runs if run[1] - run[0] >= length):
            for run in open_runs:
                if run[3] == y - 1 and abs(run[0] - x0) <= 3 and abs(run[1] - x1) <= 3:
                    run[3] = int(y)
                    still_open.append(run)
                    break
            else:
                still_open.append([x0, x1, int(y), int(y)])
        done.extend(run for run in open_runs if run not in still_open)
        open_runs = still_open
    done.extend(open_runs)
    return [(x0, x1, y0, y1 + 1) for x0, x1, y0, y1 in done if y1 - y0 + 1 <= thickness]


def scan_words(words: Iterable[Any], dpi: int) -> list[Word]:
    """OCR words (``ocr.OcrWord``: pixel boxes, line heights) as layout words in points.

    A word's size is its line's height, rounded to whole points: OCR boxes vary with
    ascenders and descenders, so sizes only count when they differ clearly.
    """
    scale = 72.0 / dpi
    out: list[Word] = []
    for word in words:
        text = unicodedata.normalize("NFKC", word.text)
        # A table's vertical rules come out of OCR as "|" glued to the cells' words:
        # split there, each piece with its share of the box, and drop the bars.
        start = 0
        for piece in re.split(r"(\|+)", text):
            end = start + len(piece)
            if piece.strip() and not piece.startswith("|"):
                left = word.left + word.width * start / len(text)
                right = word.left + word.width * end / len(text)
                out.append(
                    Word(
                        text=piece.strip(),
                        x0=left * scale,
                        x1=right * scale,
                        top=word.top * scale,
                        bottom=(word.top + word.height) * scale,
                        size=float(round(word.line_height * scale / SCAN_LINE_TO_SIZE)),
                        bold=False,
                        rtl=any(unicodedata.bidirectional(ch) in _RTL_BIDI for ch in piece),
                        order=len(out),
                    )
                )
            start = end
    return out


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


# ------------------------------------------------------------------ tables


def find_tables(lines: list[Line], rules: Sequence[Rule], body_size: float) -> list[Table]:
    """Tables framed by horizontal rules, then tables of aligned cells without rules."""
    tables = _ruled_tables(lines, rules, body_size)
    taken = [line for line in lines if not any(_inside(line, t) for t in tables)]
    tables.extend(_aligned_tables(taken, body_size))
    for table in tables:
        members = [line for line in lines if _inside(line, table)]
        verticals = [r for r in rules if not r.horizontal and _overlaps_table(r, table)]
        horizontals = [r for r in rules if r.horizontal and _overlaps_table(r, table)]
        grid = _grid_cells(members, verticals, horizontals, table)
        table.rows = grid if grid is not None else _cells(members, verticals, body_size)
    return [t for t in tables if len(t.rows) >= 2 and max(len(r) for r in t.rows) >= 2]


def _inside(line: Line, table: Table) -> bool:
    middle_y = (line.top + line.bottom) / 2
    middle_x = (line.x0 + line.x1) / 2
    return (
        table.top - 1 <= middle_y <= table.bottom + 1
        and table.x0 - 2 <= middle_x <= table.x1 + 2
        and line.x0 >= table.x0 - 6
        and line.x1 <= table.x1 + 6
    )


def _overlaps_table(rule: Rule, table: Table) -> bool:
    return (
        table.x0 - 2 <= rule.x0 <= table.x1 + 2
        and rule.bottom > table.top
        and rule.top < table.bottom
    )


def _ruled_tables(lines: list[Line], rules: Sequence[Rule], body_size: float) -> list[Table]:
    horizontals = sorted(
        (r for r in rules if r.horizontal and r.x1 - r.x0 >= 4 * max(body_size, 4.0)),
        key=lambda r: r.top,
    )
    # Rules of one table share their x extent (within a few points); cmidrules are
    # shorter and sit inside it.
    groups: list[list[Rule]] = []
    for rule in horizontals:
        for group in groups:
            x0, x1 = min(r.x0 for r in group), max(r.x1 for r in group)
            shared = min(x1, rule.x1) - max(x0, rule.x0)
            if shared >= 0.85 * max(x1 - x0, rule.x1 - rule.x0) and not _paragraph_between(
                lines, x0, x1, group[-1].bottom, rule.top
            ):
                group.append(rule)
                break
        else:
            groups.append([rule])
    tables: list[Table] = []
    for group in groups:
        x0, x1 = min(r.x0 for r in group), max(r.x1 for r in group)
        top, bottom = group[0].top, group[-1].bottom
        if len(group) == 1:
            # One rule: a header rule with aligned rows around it, or a mere separator.
            top, bottom = top - 0.1, bottom + 0.1
        top = _extend(lines, x0, x1, top, upwards=True, body_size=body_size)
        bottom = _extend(lines, x0, x1, bottom, upwards=False, body_size=body_size)
        table = Table(x0, x1, top, bottom)
        members = [line for line in lines if _inside(line, table)]
        if len(group) == 1 and (len(members) < 3 or not _multi_cell(members)):
            continue
        if members and not any(_overlap(table, other) for other in tables):
            tables.append(table)
    return tables


def _overlap(a: Table, b: Table) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.top < b.bottom and b.top < a.bottom


def _multi_cell(members: Sequence[Line]) -> bool:
    """Whether the lines look like table rows: at least two bands of several cells."""
    bands = Counter(round((m.top + m.bottom) / 4) for m in members)
    return sum(1 for count in bands.values() if count >= 2) >= 2


def _paragraph_between(
    lines: Sequence[Line], x0: float, x1: float, top: float, bottom: float
) -> bool:
    """Whether a line of running text (one wide run of many words) lies between two rules."""
    between = [
        line
        for line in lines
        if line.top >= top - 1 and line.bottom <= bottom + 1 and line.x1 > x0 and line.x0 < x1
    ]
    if any(_running_text(line, x1 - x0) for line in between):
        return True
    # Rules with nothing between them for lines on end close one table and open another.
    edges = sorted([(top, top), *((line.top, line.bottom) for line in between), (bottom, bottom)])
    reach = edges[0][1]
    for start, end in edges[1:]:
        if start - reach > EMPTY_BETWEEN_TABLES_EM * 10.0:
            return True
        reach = max(reach, end)
    return False


def _running_text(line: Line, width: float) -> bool:
    """Whether a line is running text: many words, mostly words of letters, full width."""
    if line.x1 - line.x0 < 0.7 * width or len(line.words) < 4:
        return False
    if len(line.words) < 8 and sum(len(w.text) for w in line.words) < 25:
        return False
    letters = sum(
        1 for w in line.words if w.text[:1].isalpha() and not any(c.isdigit() for c in w.text)
    )
    return letters >= 0.75 * len(line.words)


def _extend(
    lines: Sequence[Line], x0: float, x1: float, edge: float, *, upwards: bool, body_size: float
) -> float:
    """Grow a table edge over the adjacent rows (a header above the first rule, say).

    A row joins while it lies within a line's height of the edge, within the table's
    width, has at least two cells and no running text.
    """
    limit = 1.6 * max(body_size, 6.0)

    def distance(line: Line) -> float:
        return edge - line.bottom if upwards else line.top - edge

    while True:
        near = [
            line
            for line in lines
            if line.x0 >= x0 - 6 and line.x1 <= x1 + 6 and -1 <= distance(line) <= limit
        ]
        if not near:
            return edge
        band_edge = min(c.top for c in near) if upwards else max(c.bottom for c in near)
        low, high = (band_edge - 1, edge) if upwards else (edge, band_edge + 1)
        row = [
            c
            for c in lines
            if low <= (c.top + c.bottom) / 2 <= high and c.x0 >= x0 - 6 and c.x1 <= x1 + 6
        ]
        if len(row) < 2 or any(_running_text(c, x1 - x0) for c in row):
            return edge
        edge = band_edge


def _aligned_tables(lines: Sequence[Line], body_size: float) -> list[Table]:
    """Runs of at least three rows of two or more cells whose left or right edges align."""
    bands: dict[int, list[Line]] = {}
    for line in lines:
        bands.setdefault(round((line.top + line.bottom) / 2), []).append(line)
    rows = sorted(bands.items())
    tables: list[Table] = []
    run: list[list[Line]] = []

    def close() -> None:
        if len(run) >= 3:
            cells = [c for row in run for c in row]
            if sum(len(c.words) for c in cells) / len(cells) <= 4:
                tables.append(
                    Table(
                        min(c.x0 for c in cells),
                        max(c.x1 for c in cells),
                        min(c.top for c in cells),
                        max(c.bottom for c in cells),
                    )
                )
        run.clear()

    for _, row in rows:
        row.sort(key=lambda c: c.x0)
        if len(row) >= 2 and run and _aligned(run[-1], row, body_size):
            run.append(row)
        elif len(row) >= 2:
            close()
            run.append(row)
        else:
            close()
    close()
    return tables


def _aligned(previous: Sequence[Line], row: Sequence[Line], body_size: float) -> bool:
    if len(previous) != len(row):
        return False
    gap = row[0].top - max(c.bottom for c in previous)
    if gap > 1.5 * max(body_size, 6.0):
        return False
    matches = 0
    for a, b in zip(previous, row, strict=True):
        if (
            abs(a.x0 - b.x0) <= 3
            or abs(a.x1 - b.x1) <= 3
            or abs((a.x0 + a.x1) - (b.x0 + b.x1)) <= 6
        ):
            matches += 1
    return matches >= len(row) - 0


def _grid_cells(
    members: Sequence[Line],
    verticals: Sequence[Rule],
    horizontals: Sequence[Rule],
    table: Table,
) -> list[list[str]] | None:
    """The cells of a fully ruled table: the rules are the cell borders.

    A cell's lines (a wrapped header, stacked values) stay one cell. A rule that crosses
    only some columns (``\\cline``) splits only those; the others' cells span the rows.
    None when the table is not ruled between its columns.
    """
    inner = _merge_positions(
        [(r.x0 + r.x1) / 2 for r in verticals if table.x0 + 3 < (r.x0 + r.x1) / 2 < table.x1 - 3]
    )
    if not inner:
        return None
    words = [w for line in members for w in line.words]
    if not words:
        return None
    body_size = _weighted_size(words)
    counts = [len(_clusters(row, body_size)) for row in build_rows(words)]
    sample = [row for row, n in zip(build_rows(words), counts, strict=True) if n * 2 > max(counts)]
    gaps = [g for g in _free_columns(sample, body_size) if all(abs(g - x) > 4 for x in inner)]
    inner = sorted([*inner, *gaps])
    columns = [table.x0 - 10, *inner, table.x1 + 10]
    ys = _merge_positions([(r.top + r.bottom) / 2 for r in horizontals])
    bounds = [min(w.top for w in words) - 1, *ys, max(w.bottom for w in words) + 1]
    bounds = sorted(set(bounds))

    def column_of(word: Word) -> int:
        middle = (word.x0 + word.x1) / 2
        return max(0, min(len(columns) - 2, sum(1 for x in columns[1:-1] if middle > x)))

    def band_of(word: Word) -> int:
        middle = (word.top + word.bottom) / 2
        return sum(1 for y in bounds[1:-1] if middle > y)

    # A band's text rows are rows of their own when every row fills the band's columns
    # (rules around groups of rows) or there are many; else they are cells' lines.
    bands: dict[int, list[Word]] = {}
    for word in words:
        bands.setdefault(band_of(word), []).append(word)
    sub_row: dict[int, int] = {}
    for band_words in bands.values():
        text_rows = build_rows(band_words)
        used = {column_of(w) for w in band_words}
        complete = all({column_of(w) for w in row} >= used for row in text_rows)
        if len(text_rows) > 1 and (complete or len(text_rows) > 2 * MAX_LINES_PER_CELL):
            for number, row_words in enumerate(text_rows):
                for word in row_words:
                    sub_row[id(word)] = number
    grid: dict[tuple[int, int], dict[int, list[Word]]] = {}
    for word in words:
        column = column_of(word)
        band = start = band_of(word)
        # Bands a rule does not separate in this column belong to one spanning cell.
        while band > 0 and not _rule_across(horizontals, bounds[band], column, columns):
            band -= 1
        row = (band, sub_row.get(id(word), 0) if band == start else 0)
        grid.setdefault(row, {}).setdefault(column, []).append(word)
    kept = sorted({column for cells in grid.values() for column in cells})
    return [[_cell_text(grid[row].get(column, [])) for column in kept] for row in sorted(grid)]


def _cell_text(words: Sequence[Word]) -> str:
    return " ".join(w.text for w in build_rows_text(words))


def build_rows_text(words: Sequence[Word]) -> list[Word]:
    """A cell's words in reading order: its lines top to bottom, each left to right."""
    ordered: list[Word] = []
    for row in build_rows(words):
        ordered.extend(sorted(row, key=lambda w: w.x0))
    return ordered


def _rule_across(
    horizontals: Sequence[Rule], y: float, column: int, columns: Sequence[float]
) -> bool:
    middle = (max(columns[column], min(r.x0 for r in horizontals)) + columns[column + 1]) / 2
    left, right = columns[column], columns[column + 1]
    middle = (left + right) / 2 if column not in (0, len(columns) - 2) else middle
    return any(
        abs((r.top + r.bottom) / 2 - y) <= 2 and r.x0 - 2 <= middle <= r.x1 + 2 for r in horizontals
    )


def _merge_positions(values: Iterable[float], tolerance: float = 2.0) -> list[float]:
    merged: list[float] = []
    for value in sorted(values):
        if merged and value - merged[-1] <= tolerance:
            continue
        merged.append(value)
    return merged


def _cells(members: Sequence[Line], verticals: Sequence[Rule], body_size: float) -> list[list[str]]:
    """The cell texts of a table's lines: rows by baseline, columns by the free x gaps."""
    words = [w for line in members for w in line.words]
    if not words:
        return []
    row_bands = build_rows(words)
    # Columns: x ranges that no word of a regular row crosses (spanning headers skipped).
    counts = [len(_clusters(row, body_size)) for row in row_bands]
    regular = max(counts)
    sample = [row for row, n in zip(row_bands, counts, strict=True) if n * 2 > regular] or row_bands
    boundaries = _free_columns(sample, body_size)
    for rule in verticals:
        middle = (rule.x0 + rule.x1) / 2
        if all(abs(middle - b) > 3 for b in boundaries):
            boundaries.append(middle)
    boundaries.sort()
    table: list[list[str]] = []
    for row in row_bands:
        cells: list[list[Word]] = [[] for _ in range(len(boundaries) + 1)]
        for word in row:
            middle = word.x0 + min(word.x1 - word.x0, body_size) / 2
            column = sum(1 for b in boundaries if middle > b)
            cells[column].append(word)
        table.append([" ".join(w.text for w in sorted(c, key=lambda w: w.x0)) for c in cells])
    # Drop columns that are empty in every row.
    keep = [i for i in range(len(boundaries) + 1) if any(row[i] for row in table)]
    return [[row[i] for i in keep] for row in table]


def build_rows(words: Sequence[Word]) -> list[list[Word]]:
    """Words grouped into rows by vertical overlap (sub- and superscripts join their row)."""
    ordered = sorted(words, key=lambda w: w.top)
    rows: list[list[Word]] = []
    bottom = -1e9
    top = -1e9
    for word in ordered:
        middle = (word.top + word.bottom) / 2
        if rows and middle < bottom and word.top < bottom - 0.3 * word.height:
            rows[-1].append(word)
            bottom = max(bottom, word.bottom) if word.height > 0.7 * (bottom - top) else bottom
        else:
            rows.append([word])
            top, bottom = word.top, word.bottom
    return rows


def _clusters(row: Sequence[Word], body_size: float) -> list[list[Word]]:
    ordered = sorted(row, key=lambda w: w.x0)
    groups = [[ordered[0]]]
    for word in ordered[1:]:
        if word.x0 - groups[-1][-1].x1 > 0.6 * max(word.size, body_size * 0.5):
            groups.append([word])
        else:
            groups[-1].append(word)
    return groups


def _free_columns(rows: Sequence[Sequence[Word]], body_size: float) -> list[float]:
    """Middles of the x gaps (at least half an em wide) that no word of ``rows`` covers."""
    spans = sorted((w.x0, w.x1) for row in rows for w in row)
    boundaries: list[float] = []
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= 0.5 * body_size:
            boundaries.append((reach + x0) / 2)
        reach = max(reach, x1)
    # A gap between two words of one cell is not a column: keep gaps that separate
    # words in most rows' cells, i.e. where some row has a cluster boundary.
    kept = []
    for boundary in boundaries:
        splits = 0
        for row in rows:
            clusters = _clusters(row, body_size)
            for left, right in itertools.pairwise(clusters):
                if left[-1].x1 <= boundary <= right[0].x0:
                    splits += 1
                    break
        if splits * 2 >= len(rows) or splits >= 2:
            kept.append(boundary)
    return kept


# ------------------------------------------------------------------ reading order


def reading_order(blocks: list[_Block], body_size: float) -> list[_Block]:
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
    parts: list[list[_Block]] = [[], []]
    for block in blocks:
        start = block.x0 if axis == "x" else block.top
        parts[start >= gap[1] - 0.01].append(block)
    if axis == "x" and _mostly_rtl(blocks):
        parts.reverse()  # right-to-left text: the rightmost column is read first
    ordered: list[_Block] = []
    for part in parts:
        ordered.extend(reading_order(part, body_size) if len(part) < len(blocks) else part)
    return ordered


def _mostly_rtl(blocks: Sequence[_Block]) -> bool:
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


def _columns_ok(blocks: Sequence[_Block], gap: tuple[float, float]) -> bool:
    """A vertical cut must leave real text on both sides (not bullets or line numbers)."""
    left = [b for b in blocks if b.x1 <= gap[0] + 0.01]
    right = [b for b in blocks if b.x0 >= gap[1] - 0.01]
    return _substantial(left) and _substantial(right)


def _substantial(blocks: Sequence[_Block]) -> bool:
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
    glyphs = _Glyphs(skip_diagonal=skip_diagonal)
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
    body_size = _weighted_size(words)
    lines = build_lines(words, rules)
    tables = find_tables(lines, rules, body_size)
    blocks: list[_Block] = [_Block(t.x0, t.x1, t.top, t.bottom, table=t) for t in tables]
    prose: list[Line] = []
    for line in lines:
        if not any(_inside(line, t) for t in tables):
            blocks.append(_Block(line.x0, line.x1, line.top, line.bottom, line=line))
            prose.append(line)
    ordered = reading_order(blocks, body_size)
    # Headings stand out from the running text, not from tables set smaller.
    prose_words = [w for line in prose for w in line.words]
    if sum(len(w.text) for w in prose_words) >= MIN_PROSE_CHARACTERS:
        body_size = _weighted_size(prose_words)
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
    blocks: Sequence[_Block], body_size: float, heading_sizes: Sequence[float]
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
    size = _weighted_size(w for line in lines for w in line.words)
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

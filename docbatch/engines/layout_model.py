"""The layout engine's vocabulary: tuning constants, and the words, lines, ruling lines,
tables and blocks a page is read into (``docbatch.engines.layout``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

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
        return weighted_size(self.words)

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
class Block:
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


def weighted_size(words: Iterable[Word]) -> float:
    sizes: Counter[float] = Counter()
    for word in words:
        sizes[round(word.size, 1)] += len(word.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0

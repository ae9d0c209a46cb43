"""What a page gives the layout engine: words and ruling lines from PDFium's characters
and paths, or from Tesseract's words and the scan's pixels."""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from docbatch.engines.layout_model import (
    MAX_PATHS,
    MAX_SHADED_ROW,
    MIN_RULE_LENGTH,
    RULE_THICKNESS,
    SCAN_LINE_TO_SIZE,
    SCAN_RULE_INCHES,
    SCAN_RULE_THICKNESS_INCHES,
    TURNED_TEXT,
    WORD_GAP_EM,
    Rule,
    Word,
)
from docbatch.engines.pdf import is_diagonal

# ------------------------------------------------------------------ characters → words


_RTL_BIDI = frozenset({"R", "AL"})
_UNMAPPED_CODES = frozenset({0, 0xFFFD, 0xFFFE, 0xFFFF})
_LINE_END_HYPHEN = 0x02
_BOLD_FONT = re.compile(
    # Named weights, and TeX's bold faces: CMBX10, SFBX1000 (cm-super), ptmb8t (Times).
    r"bold|black|heavy|semibold|demi|bx\d|bxti|bxsl|^(?:[a-z]{6}\+)?p[a-z]{2}b\d|[.,-]b\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Glyphs:
    visible: int = 0
    unmapped: int = 0
    turned: list[str] = field(default_factory=list)
    """The text set at an angle (a margin stamp, a watermark), in stream order."""
    skip_diagonal: bool = False
    """Leave out glyphs neither horizontal nor vertical (``skip_diagonal_text``)."""

    def turned_text(self) -> str:
        return " ".join("".join(self.turned).split())


def page_words(page: Any, textpage: Any, glyphs: Glyphs | None = None) -> list[Word]:
    """The words of one page, in PDFium's order (y grows downwards from the page top).

    ``glyphs``, when given, counts the visible glyphs and those without text.
    """
    glyphs = glyphs if glyphs is not None else Glyphs()
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

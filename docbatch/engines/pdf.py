"""PDF pages with PDFium (pypdfium2): open, probe the text layer, render, spot diagonals.

The parse engine converts a PDF one page at a time so that memory stays bounded on long
documents, a failed page can be replaced, and scanned pages can go to OCR. This module
holds the PDFium side of that; the markdown comes from the layout engine
(``docbatch.engines.layout``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docbatch.errors import DocumentError

if TYPE_CHECKING:
    from PIL.Image import Image

OCR_DPI = 300
MAX_RENDER_PIXELS = 40_000_000
"""Pages larger than A2 at 300 DPI are rendered at a lower resolution, bounding memory."""
DIAGONAL_TOLERANCE_DEGREES = 3.0
"""Text this close to a multiple of 90° counts as straight (slightly skewed scans)."""

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PageProbe:
    """What PDFium sees on one page before any conversion."""

    raw_text: str
    """The text layer as PDFium reads it (the ``raw_text`` replacement of a failed page)."""
    visible_characters: int
    has_graphics: bool
    """Whether the page draws images or vector graphics (a scan with no text layer)."""
    diagonal_characters: int = 0
    """Characters neither horizontal nor vertical; counted only when asked for."""


def open_pdf(source: Path | bytes) -> Any:
    """Open a PDF with PDFium; ``DocumentError`` when it is encrypted or damaged."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise DocumentError("encrypted PDF: password required") from None
        raise DocumentError(
            "corrupted file: the PDF cannot be opened (damaged or truncated)"
        ) from None


def pdf_page_count(path: Path) -> int | None:
    """The number of pages of the PDF at ``path`` (no page is loaded), or None if unreadable."""
    try:
        document = open_pdf(path)
    except (DocumentError, OSError):
        return None
    try:
        return len(document)
    finally:
        document.close()


def probe_page(document: Any, index: int, *, count_diagonal: bool = False) -> PageProbe:
    """Read the text layer of page ``index`` and whether it draws anything else."""
    import pypdfium2.raw as pdfium_c

    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            raw_text = textpage.get_text_range()
            visible = len(_WHITESPACE.sub("", raw_text))
            diagonal = 0
            if count_diagonal and visible:
                raw_text, diagonal = _without_diagonal(pdfium_c, textpage, raw_text)
            raw_text = raw_text.replace("\r\n", "\n").replace("\r", "\n")
            raw_text = re.sub(r"\n{3,}", "\n\n", raw_text)
        finally:
            textpage.close()
        has_graphics = False
        if not visible:
            graphic_types = {
                pdfium_c.FPDF_PAGEOBJ_IMAGE,
                pdfium_c.FPDF_PAGEOBJ_PATH,
                pdfium_c.FPDF_PAGEOBJ_SHADING,
            }
            has_graphics = any(obj.type in graphic_types for obj in page.get_objects(max_depth=3))
    finally:
        page.close()
    return PageProbe(
        raw_text=raw_text.strip(),
        visible_characters=visible,
        has_graphics=has_graphics,
        diagonal_characters=diagonal,
    )


def render_page(document: Any, index: int) -> tuple[Image, int]:
    """Page ``index`` as a greyscale image for OCR, and the resolution it was rendered at."""
    page = document[index]
    try:
        width, height = page.get_size()
        dpi = float(OCR_DPI)
        pixels = (width * dpi / 72) * (height * dpi / 72)
        if pixels > MAX_RENDER_PIXELS:
            dpi *= math.sqrt(MAX_RENDER_PIXELS / pixels)
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        try:
            image: Image = bitmap.to_pil()
            # to_pil() may share the bitmap's buffer; copy before the bitmap is freed.
            image = image.copy()
        finally:
            bitmap.close()
    finally:
        page.close()
    return image, round(dpi)


def is_diagonal(a: float, b: float) -> bool:
    """Whether a text direction ``(a, b)`` (first column of its matrix) is not axis-aligned."""
    angle = math.degrees(math.atan2(b, a)) % 90.0
    return DIAGONAL_TOLERANCE_DEGREES < angle < 90.0 - DIAGONAL_TOLERANCE_DEGREES


def _without_diagonal(pdfium_c: Any, textpage: Any, text: str) -> tuple[str, int]:
    """``text`` (the whole text page) without the characters drawn at an angle, and their count.

    PDFium reports each character's angle on the page (Form XObjects included); the
    characters it generates itself (spaces, line breaks) have none and are kept. When
    the text does not line up with PDFium's character indices (characters outside the
    Basic Multilingual Plane count twice there), only the count is returned.
    """
    count = textpage.count_chars()
    aligned = count == len(text)
    kept: list[str] = []
    removed = 0
    for position in range(count):
        angle = pdfium_c.FPDFText_GetCharAngle(textpage, position)
        if angle >= 0 and is_diagonal(math.cos(angle), math.sin(angle)):
            removed += 1
        elif aligned:
            kept.append(text[position])
    return ("".join(kept) if aligned and removed else text), removed

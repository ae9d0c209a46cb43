"""What a conversion is made of: the page selection and options it runs with, and the
converted document and pages it returns (shared by ``parse`` and ``page_runs``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from docbatch.engines.formats import PLAIN_SOURCES

NO_TEXT_LAYER = (
    "no extractable text: the document has no text layer (scanned PDF or image) "
    "and OCR is not available"
)
"""Why a scanned PDF fails when the caller did not ask for OCR (``convert_document``'s
default); with OCR requested but Tesseract missing, `` (tesseract not installed)`` follows."""
OCR_DISABLED = "OCR disabled by disable_ocr"
DEFAULT_FAILED_PAGE_PREFIX = "[page {pageNumber} could not be parsed: "
DEFAULT_FAILED_PAGE_SUFFIX = "]"

OcrMode = Literal["unavailable", "disabled", "enabled"]
FailedPageMode = Literal["raw_text", "blank_page", "error_message"]
PageSource = Literal["text", "ocr", "blank", "unread", "failed"]
FAILED_PAGE_MODES: dict[str, FailedPageMode] = {
    "raw_text": "raw_text",
    "blank_page": "blank_page",
    "error_message": "error_message",
}


@dataclass(frozen=True, slots=True)
class PageSelection:
    """Which pages of a paged document to convert: 0-indexed targets, then a cap."""

    target_pages: tuple[tuple[int, int], ...] | None = None
    """Inclusive ``(first, last)`` ranges, kept as ranges so "0-999999" costs nothing."""
    max_pages: int | None = None

    def apply(self, page_count: int) -> list[int]:
        """The 0-indexed pages to convert out of ``page_count``, in document order."""
        indices = list(range(page_count))
        if self.target_pages is not None:
            ranges = self.target_pages
            indices = [i for i in indices if any(first <= i <= last for first, last in ranges)]
        if self.max_pages:
            indices = indices[: self.max_pages]
        return indices


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """How to convert beyond page selection: OCR, rotated text and pages that fail.

    ``ocr`` is ``"enabled"`` (read scans and images with Tesseract in ``languages``),
    ``"disabled"`` (the user set ``disable_ocr``) or ``"unavailable"`` (the caller did
    not ask for OCR). A failed page of a PDF or multi-page image is replaced as
    ``replace_failed_page_mode`` says while failed pages stay within
    ``page_error_tolerance`` (a fraction of the selected pages); beyond it, or with the
    default 0, the document fails with a message naming the page.
    """

    ocr: OcrMode = "unavailable"
    languages: tuple[str, ...] = ()
    skip_diagonal_text: bool = False
    page_error_tolerance: float = 0.0
    replace_failed_page_mode: FailedPageMode = "raw_text"
    failed_page_prefix: str = DEFAULT_FAILED_PAGE_PREFIX
    failed_page_suffix: str = DEFAULT_FAILED_PAGE_SUFFIX
    pdf_layout: bool = True
    """Recover PDF structure (headings, tables, columns); False (``fast_mode``) gives
    PDFium's plain text of each page."""


@dataclass(frozen=True, slots=True)
class Page:
    """One converted page: its 0-indexed number, markdown and where the text came from.

    ``source`` is ``text`` (text layer or converter), ``ocr``, ``blank`` (nothing on the
    page), ``unread`` (a scan left unread because OCR is off) or ``failed`` (replaced as
    ``replace_failed_page_mode`` says; ``error`` says why).
    """

    index: int
    markdown: str
    source: PageSource = "text"
    error: str | None = None
    diagonal_characters: int = 0
    layout_error: str | None = None
    """Why a PDF page's layout could not be recovered (its plain text stands in)."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """A converted document: its markdown and, for paged formats, each page."""

    markdown: str
    source_format: str
    pages: tuple[Page, ...] | None = None
    """The converted pages of a PDF, image, deck or workbook; None for other formats."""
    page_count: int | None = None
    """Pages (or slides, sheets, frames) in the whole document, selected or not."""
    ocr_languages: str | None = None
    """The Tesseract ``-l`` argument used, when any page was OCRed."""
    isolated_pages: bool = False
    """Whether pages are converted one by one, so one can fail alone (PDFs, images)."""

    @property
    def plain_source(self) -> bool:
        """Whether the markdown is plain text apart from converter-made tables."""
        return self.source_format in PLAIN_SOURCES


ProgressCallback = Callable[[int, int], None]


def render_pages(
    pages: Sequence[tuple[int, str]],
    *,
    separator: str | None = None,
    prefix: str | None = None,
    suffix: str | None = None,
) -> str:
    """Join converted pages; ``{pageNumber}``/``{page_number}`` become 1-based numbers.

    The separator carries the number of the page that follows it (as in the reference
    API). Without any page parameter, non-empty pages are joined by a blank line.
    """
    if separator is None and prefix is None and suffix is None:
        return "\n\n".join(text for _, text in pages if text)
    parts: list[str] = []
    for position, (index, text) in enumerate(pages):
        if position > 0:
            parts.append(number_template("\n\n" if separator is None else separator, index))
        parts.append(number_template(prefix or "", index) + text)
        parts.append(number_template(suffix or "", index))
    return "".join(parts)


def number_template(template: str, index: int) -> str:
    number = str(index + 1)
    return template.replace("{pageNumber}", number).replace("{page_number}", number)

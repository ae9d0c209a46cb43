"""Paged conversions: a PDF page by page (layout, plain text or OCR per page) and image
files frame by frame, with page selection, progress and the failed-page policy."""

from __future__ import annotations

import contextlib
import functools
import struct
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docbatch.engines import layout as pdf_layout
from docbatch.engines import ocr as tesseract_ocr
from docbatch.engines import pdf as pdfium_pages
from docbatch.engines.conversion import (
    OCR_DISABLED,
    Conversion,
    ConvertOptions,
    Page,
    PageSelection,
    ProgressCallback,
    number_template,
    render_pages,
)
from docbatch.engines.formats import MULTI_FRAME_IMAGES, limit_message
from docbatch.engines.pages import (
    split_sheets,
    split_slides,
)
from docbatch.errors import DocumentError

if TYPE_CHECKING:
    from PIL.Image import Image


# ------------------------------------------------------------------ pages and OCR


def select_pages(selection: PageSelection, page_count: int) -> list[int]:
    indices = selection.apply(page_count)
    if not indices:
        raise DocumentError(
            f"no page selected: target_pages names none of the document's "
            f"{page_count} pages (0-indexed)"
        )
    return indices


def split_pages(markdown: str, fmt: str) -> list[str] | None:
    """One page per slide of a deck or sheet of a workbook; None for other formats."""
    if fmt == "pptx":
        return split_slides(markdown)
    if fmt in ("xlsx", "xls"):
        return split_sheets(markdown)
    return None


class _PageRun:
    """Converts the selected pages one by one: failures, replacements, progress, OCR.

    A page whose conversion raised ``DocumentError`` is replaced as the options say, as
    long as failed pages stay within ``page_error_tolerance`` of the selected pages;
    past that the document fails at once (a later page cannot bring the share back).
    """

    def __init__(
        self,
        options: ConvertOptions,
        progress: ProgressCallback | None,
        *,
        no_text_reason: str,
    ) -> None:
        self.options = options
        self.progress = progress
        self.no_text_reason = no_text_reason
        """Why pages have no text, before the clause about OCR (see ``no_text_message``)."""
        self.total = 0
        self.page_count = 0
        self.failures = 0
        self._languages: str | None = None

    def run(
        self, indices: Sequence[int], convert: Callable[[int], Page], *, page_count: int
    ) -> list[Page]:
        """Convert the pages ``indices`` with ``convert``, reporting progress after each."""
        self.total = len(indices)
        self.page_count = page_count
        if self.progress is not None:
            self.progress(0, self.total)
        pages: list[Page] = []
        for done, index in enumerate(indices, start=1):
            pages.append(convert(index))
            if self.progress is not None:
                self.progress(done, self.total)
        return pages

    def failed(self, index: int, error: str, raw_text: str) -> Page:
        """The replacement of a page that failed, or ``DocumentError`` past the tolerance."""
        self.failures += 1
        total = self.total
        if self.failures > self.options.page_error_tolerance * total:
            if self.page_count == 1:
                # The page is the document: its error says it all.
                raise DocumentError(error)
            if self.options.page_error_tolerance == 0:
                raise DocumentError(limit_message(f"page {index + 1} could not be parsed: {error}"))
            raise DocumentError(
                limit_message(
                    f"too many pages failed ({self.failures} of {total}, page_error_tolerance "
                    f"{self.options.page_error_tolerance:g}); page {index + 1}: {error}"
                )
            )
        mode = self.options.replace_failed_page_mode
        if mode == "raw_text":
            markdown = raw_text
        elif mode == "blank_page":
            markdown = ""
        else:
            markdown = (
                number_template(self.options.failed_page_prefix, index)
                + error
                + number_template(self.options.failed_page_suffix, index)
            )
        return Page(index, markdown, "failed", error=error)

    def no_text_message(self) -> str:
        """Why the document yields no text, for the current OCR mode."""
        if self.options.ocr == "disabled":
            return f"no extractable text: {self.no_text_reason}, {OCR_DISABLED}"
        if self.options.ocr == "enabled":
            return f"no extractable text: {self.no_text_reason} and {tesseract_ocr.NOT_INSTALLED}"
        return f"no extractable text: {self.no_text_reason} and OCR is not available"

    def languages(self) -> str:
        """The Tesseract languages, checked once; ``DocumentError`` fails the whole document."""
        if self._languages is None:
            if tesseract_ocr.tesseract() is None:
                raise DocumentError(self.no_text_message())
            self._languages = tesseract_ocr.tesseract_languages(self.options.languages)
        return self._languages

    def read(self, index: int, render: Callable[[], tuple[Image, int | None]]) -> Page:
        """OCR page ``index`` rendered by ``render``; a page left unread when OCR is off."""
        if self.options.ocr != "enabled":
            return Page(index, "", "unread")
        languages = self.languages()
        try:
            text = self.ocr_text(render, languages)
        except DocumentError as exc:
            return self.failed(index, str(exc), "")
        return Page(index, text, "ocr")

    def ocr_text(self, render: Callable[[], tuple[Image, int | None]], languages: str) -> str:
        """The markdown of what Tesseract reads on one rendered page, laid out as a text
        layer is (paragraphs, tables from the rules on the scan, columns); ``DocumentError``
        when it fails."""
        image, dpi = render()
        words = tesseract_ocr.ocr_words(image, languages, dpi=dpi)
        return pdf_layout.layout_scan(words, image, dpi).markdown

    @property
    def ocr_languages(self) -> str | None:
        """The ``-l`` argument used, once a page has needed OCR."""
        return self._languages


def convert_pdf(
    path: Path,
    selection: PageSelection,
    options: ConvertOptions,
    progress: ProgressCallback | None,
) -> Conversion:
    """Convert the selected pages of a PDF one by one, each as its own one-page PDF.

    markitdown joins pages without a marker when any page looks like a form or table,
    and reads a whole document at once; a one-page PDF per page (split with PDFium)
    keeps pages apart and memory flat. Pages without a text layer that draw something
    are OCRed, as are pages whose fonts map no glyph to text ("(cid:12)" soup).
    """
    run = _PageRun(
        options, progress, no_text_reason="the document has no text layer (scanned PDF or image)"
    )
    document = pdfium_pages.open_pdf(path)
    try:
        page_count = len(document)
        if page_count == 0:
            raise DocumentError("empty document: the PDF has no pages")
        indices = select_pages(selection, page_count)
        pages = run.run(
            indices, functools.partial(_convert_pdf_page, document, run), page_count=page_count
        )
    finally:
        document.close()
    if not any(page.markdown for page in pages):
        raise _nothing_read(pages, run, "on the scanned pages")
    return Conversion(
        markdown=render_pages([(page.index, page.markdown) for page in pages]),
        source_format="pdf",
        pages=tuple(pages),
        page_count=page_count,
        ocr_languages=run.ocr_languages,
        isolated_pages=True,
    )


def _convert_pdf_page(document: Any, run: _PageRun, index: int) -> Page:
    import pypdfium2 as pdfium

    options = run.options
    try:
        probe = pdfium_pages.probe_page(document, index, count_diagonal=options.skip_diagonal_text)
    except pdfium.PdfiumError as exc:
        return run.failed(index, f"the page cannot be loaded ({exc})", "")

    def render() -> tuple[Image, int | None]:
        return pdfium_pages.render_page(document, index)

    if not probe.visible_characters:
        if not probe.has_graphics:
            return Page(index, "", "blank")
        return run.read(index, render)
    unmapped = False
    try:
        if options.pdf_layout:
            try:
                page_layout = pdf_layout.layout_pdf_page(
                    document, index, skip_diagonal=options.skip_diagonal_text
                )
            except (DocumentError, pdfium.PdfiumError):
                raise
            except Exception as exc:  # the layout rules met a page they cannot arrange
                # Its plain text is still the page's content: keep it and say why.
                return Page(
                    index,
                    probe.raw_text,
                    diagonal_characters=probe.diagonal_characters,
                    layout_error=limit_message(f"{type(exc).__name__}: {exc}"),
                )
            markdown = page_layout.markdown
            unmapped = page_layout.mostly_unmapped
        else:
            markdown = probe.raw_text  # without diagonal text when skip_diagonal_text asks
    except DocumentError as exc:
        return run.failed(index, str(exc), probe.raw_text)
    except pdfium.PdfiumError as exc:
        return run.failed(index, f"the page cannot be read ({exc})", probe.raw_text)
    if options.ocr == "enabled" and unmapped:
        languages = run.languages()
        # The page has text of a sort: an OCR failure keeps it rather than failing the page.
        with contextlib.suppress(DocumentError):
            text = run.ocr_text(render, languages)
            if text:
                return Page(index, text, "ocr")
    return Page(index, markdown, diagonal_characters=probe.diagonal_characters)


def convert_image(
    path: Path,
    fmt: str,
    selection: PageSelection,
    options: ConvertOptions,
    progress: ProgressCallback | None,
) -> Conversion:
    """OCR an image file, each frame of a multi-page TIFF as a page."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    run = _PageRun(options, progress, no_text_reason=f".{fmt} is an image")
    if options.ocr != "enabled":
        raise DocumentError(run.no_text_message())
    run.languages()  # fail before reading the file: an image always needs OCR
    with path.open("rb") as stream:
        try:
            with warnings.catch_warnings():
                # Past Pillow's pixel limit a picture is more likely hostile than a scan.
                warnings.simplefilter("error", PILImage.DecompressionBombWarning)
                image = PILImage.open(stream)
        except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError):
            raise DocumentError(
                f"image too large: the .{fmt} image exceeds "
                f"{(PILImage.MAX_IMAGE_PIXELS or 0) // 1_000_000} megapixels"
            ) from None
        except UnidentifiedImageError:
            raise DocumentError(
                f"corrupted file: the .{fmt} file is not a readable image"
            ) from None
        with image:
            frames = getattr(image, "n_frames", 1) if fmt in MULTI_FRAME_IMAGES else 1
            indices = select_pages(selection, frames)

            def convert(index: int) -> Page:
                def render() -> tuple[Image, int | None]:
                    try:
                        image.seek(index)
                        return tesseract_ocr.prepare_image(image), tesseract_ocr.declared_dpi(image)
                    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
                        raise DocumentError(
                            limit_message(
                                f"corrupted file: the .{fmt} image cannot be decoded ({exc})"
                            )
                        ) from None

                return run.read(index, render)

            pages = run.run(indices, convert, page_count=frames)
    if not any(page.markdown for page in pages):
        raise _nothing_read(pages, run, f"in the .{fmt} image")
    return Conversion(
        markdown=render_pages([(page.index, page.markdown) for page in pages]),
        source_format=fmt,
        pages=tuple(pages),
        page_count=frames,
        ocr_languages=run.ocr_languages,
        isolated_pages=True,
    )


def _nothing_read(pages: Sequence[Page], run: _PageRun, where: str) -> DocumentError:
    """Why no page of a paged document gave any text."""
    failed = [page for page in pages if page.source == "failed"]
    if failed:
        first = failed[0]
        return DocumentError(
            limit_message(f"no page could be parsed: page {first.index + 1}: {first.error}")
        )
    if any(page.source == "unread" for page in pages):
        return DocumentError(run.no_text_message())
    if any(page.source == "ocr" for page in pages):
        return DocumentError(f"no extractable text: OCR found no text {where}")
    return DocumentError("empty document: no text content found")

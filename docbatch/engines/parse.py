"""Parse engine: one document on disk → JSON with its markdown, plain text and pages.

markitdown does the conversion (PDF, Office, HTML, text, CSV, JSON, EPUB, ZIP); legacy
Office, OpenDocument and RTF files (``.doc``, ``.odt``, ``.rtf``, ``.ods``, ``.odp``,
``.ppt``…) are converted to OOXML by LibreOffice first (``docbatch.engines.office``);
``.eml`` goes through the stdlib ``email`` package; scanned PDF pages and image files are
read by Tesseract (``docbatch.engines.ocr``). PDFs are converted page by page
(``docbatch.engines.pdf``) so that memory stays bounded, progress is reported after each
page, a failed page can be replaced, and the page parameters of the reference API can be
honoured. Decks and workbooks (OpenDocument and 97-2003 ones too) are split into one page
per slide or sheet. Every failure that is the document's fault becomes a
``DocumentError`` whose message a user can read on its own.

The output is ``{"markdown", "text", "pages": [{"page", "text", "markdown"}],
"page_count", …}``; the result metadata lists the parameters that were ``applied`` and
those that were set but ``not_applied``.

Heavy libraries (markitdown pulls in onnxruntime, pandas, pdfminer) are imported on first
use, so importing this module to hand ``parse_document`` to a process pool stays cheap.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import functools
import importlib.metadata
import io
import json
import logging
import mimetypes
import re
import struct
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from docbatch.engines import layout as pdf_layout
from docbatch.engines import ocr as tesseract_ocr
from docbatch.engines import office
from docbatch.engines import pdf as pdfium_pages
from docbatch.engines.base import EngineRequest, EngineResult, report_progress
from docbatch.engines.pages import (
    clear_blank_cells,
    drop_slide_notes,
    markdown_to_text,
    remove_running_lines,
    split_sheets,
    split_slides,
    tables_to_html,
)
from docbatch.errors import DocumentError, UnsupportedFormatError
from docbatch.models import NON_OUTPUT_PARSE_FIELDS

if TYPE_CHECKING:
    from markitdown import MarkItDown
    from PIL.Image import Image

ENGINE_NAME = "docbatch"
MAX_MESSAGE_CHARS = 300

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
_FAILED_PAGE_MODES: dict[str, FailedPageMode] = {
    "raw_text": "raw_text",
    "blank_page": "blank_page",
    "error_message": "error_message",
}

# Formats with no converter, each with the advice a user can act on. (Legacy Office,
# OpenDocument and RTF go through LibreOffice: ``office.LIBREOFFICE_TARGETS``.)
_UNSUPPORTED: dict[str, str] = {
    "msg": "Outlook .msg files are not supported; save the message as .eml",
    "pages": "Apple Pages documents are not supported; export to .docx or PDF",
    "key": "Apple Keynote presentations are not supported; export to .pptx or PDF",
    "numbers": "Apple Numbers spreadsheets are not supported; export to .xlsx",
    "xlsb": "binary Excel workbooks are not supported; save as .xlsx",
    # Pillow has no HEIF decoder without a plugin.
    "heic": "HEIC images are not supported; convert to PNG or JPEG",
    "heif": "HEIF images are not supported; convert to PNG or JPEG",
}
_AUDIO_VIDEO = frozenset(
    {"mp3", "wav", "m4a", "aac", "flac", "ogg", "oga", "mp4", "m4v", "mov", "avi", "mkv", "webm"}
)
_IMAGES = frozenset({"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "jp2"})
_MULTI_FRAME_IMAGES = frozenset({"tif", "tiff"})
"""Image formats whose frames are pages; an animated GIF or WebP is one picture."""
_ZIP_PACKAGES = frozenset({"docx", "pptx", "xlsx", "epub", "zip"})
_OFFICE_ZIP = frozenset({"docx", "pptx", "xlsx"})
# The part each zip-based format cannot do without; markitdown would otherwise fall back
# to listing a renamed plain zip's members as if that were the document.
_REQUIRED_PART = {
    "docx": "word/document.xml",
    "pptx": "ppt/presentation.xml",
    "xlsx": "xl/workbook.xml",
    "epub": "META-INF/container.xml",
}
_SPREADSHEETS = frozenset({"xlsx", "xls", "csv"})
_TEXT_FORMATS = frozenset({"txt", "text", "md", "markdown", "csv", "json"})
_PLAIN_SOURCES = frozenset({"txt", "text", "json", ""} | _IMAGES)
"""Formats whose conversion is plain text (markdown only where a converter made a table)."""

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Parse parameters that change nothing in the output: delivery, identity, caching,
# time limits (enforced by the activity), credentials and storage locations.
_NON_OUTPUT_PARAMETERS = NON_OUTPUT_PARSE_FIELDS | {"outputBucket", "custom_metadata", "type"}
_NON_OUTPUT_PREFIXES = ("webhook_", "job_timeout_")

# Settings this engine satisfies by construction: it never uses an LLM, and these values
# are the defaults it always follows.
_HONOURED_BY_DESIGN: dict[str, object] = {
    # Every format but PDF has one, fast, conversion; a PDF honours either value.
    "fast_mode": True,
    "parse_mode": "parse_page_without_llm",
    "page_error_tolerance": 0,
    "max_pages": 0,
    "max_pages_enforced": 0,
}

_ALWAYS_APPLIED = frozenset({"disable_ocr", "output_tables_as_html", "output_tables_as_HTML"})
_PAGE_PARAMETERS = frozenset(
    {
        "page_separator",
        "page_prefix",
        "page_suffix",
        "max_pages",
        "max_pages_enforced",
        "target_pages",
        "hide_headers",
        "hide_footers",
    }
)
_FAILED_PAGE_PARAMETERS = frozenset({"page_error_tolerance", "replace_failed_page_mode"})
_FAILED_PAGE_MESSAGE_PARAMETERS = frozenset(
    {
        "replace_failed_page_with_error_message_prefix",
        "replace_failed_page_with_error_message_suffix",
    }
)
_OCR_PARAMETERS = frozenset({"languages", "lang"})


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
        return self.source_format in _PLAIN_SOURCES


ProgressCallback = Callable[[int, int], None]


def parse_document(request: EngineRequest) -> EngineResult:
    """Convert ``request.path`` to JSON (markdown, text, pages), honouring the parameters."""
    config = request.config
    selection = PageSelection(
        target_pages=parse_page_spec(config.get("target_pages"), "target_pages"),
        max_pages=_max_pages(config.get("max_pages"), config.get("max_pages_enforced")),
    )
    options = convert_options(config)
    conversion = convert_document(
        request.path,
        request.file_name,
        request.mime_type,
        pages=selection,
        options=options,
        progress=functools.partial(report_progress, request),
    )
    pages = conversion.pages or (Page(0, conversion.markdown),)
    finished = _finish_pages(conversion, pages, config)
    if conversion.pages is not None:
        layout = {
            "separator": config.get("page_separator"),
            "prefix": config.get("page_prefix"),
            "suffix": config.get("page_suffix"),
        }
        indices = [page.index for page in pages]
        markdown = render_pages(list(zip(indices, finished.markdown, strict=True)), **layout)
        text = render_pages(list(zip(indices, finished.text, strict=True)), **layout)
    else:
        markdown, text = finished.markdown[0], finished.text[0]

    document: dict[str, Any] = {
        "markdown": markdown,
        "text": text,
        "pages": [
            {"page": page.index + 1, "text": page_text, "markdown": page_markdown}
            for page, page_text, page_markdown in zip(
                pages, finished.text, finished.markdown, strict=True
            )
        ],
        "page_count": conversion.page_count or 1,
        "ocr_pages": [page.index + 1 for page in pages if page.source == "ocr"],
    }
    metadata: dict[str, Any] = {
        "engine": ENGINE_NAME,
        "engine_version": engine_version(),
        "source_format": conversion.source_format,
        "pages": conversion.page_count or 1,
        "pages_parsed": len(pages),
        **finished.removed,
    }
    failed = [page for page in pages if page.source == "failed"]
    if failed:
        document["failed_pages"] = [{"page": p.index + 1, "error": p.error} for p in failed]
        metadata["pages_failed"] = len(failed)
    unread = [page.index + 1 for page in pages if page.source == "unread"]
    if unread:
        document["pages_without_text"] = unread
        metadata["pages_without_text"] = len(unread)
    if document["ocr_pages"]:
        tesseract = tesseract_ocr.tesseract()
        metadata["pages_ocr"] = len(document["ocr_pages"])
        metadata["ocr_engine"] = tesseract.version if tesseract else "tesseract"
        metadata["ocr_languages"] = conversion.ocr_languages
    if options.skip_diagonal_text and conversion.source_format == "pdf":
        metadata["diagonal_characters_removed"] = sum(p.diagonal_characters for p in pages)
    plain = [page for page in pages if page.layout_error is not None]
    if plain:
        metadata["pages_without_layout"] = [
            {"page": page.index + 1, "error": page.layout_error} for page in plain
        ]
    metadata["characters"] = len(markdown)
    applied = _applicable_parameters(conversion, options)
    metadata["applied"] = applied_parameters(config, applied)
    metadata["not_applied"] = not_applied_parameters(config, applied)
    return EngineResult(
        content=json.dumps(document, ensure_ascii=False),
        content_type="application/json",
        extension="json",
        metadata=metadata,
    )


@dataclass(frozen=True, slots=True)
class _FinishedPages:
    """Each page's final markdown and plain text, and what was removed from them."""

    markdown: list[str]
    text: list[str]
    removed: dict[str, int]


def _finish_pages(
    conversion: Conversion, pages: Sequence[Page], config: Mapping[str, Any]
) -> _FinishedPages:
    """Apply ``hide_headers``/``hide_footers``, derive plain text, then HTML tables."""
    markdown = [page.markdown for page in pages]
    removed: dict[str, int] = {}
    hide_headers = bool(config.get("hide_headers"))
    hide_footers = bool(config.get("hide_footers"))
    if conversion.pages is not None and (hide_headers or hide_footers):
        running = remove_running_lines(markdown, headers=hide_headers, footers=hide_footers)
        markdown = running.pages
        if hide_headers:
            removed["headers_removed"] = running.headers_removed
        if hide_footers:
            removed["footers_removed"] = running.footers_removed
    # Text comes from the markdown tables, before they may turn into HTML.
    text = [markdown_to_text(page, plain_source=conversion.plain_source) for page in markdown]
    if config.get("output_tables_as_html") or config.get("output_tables_as_HTML"):
        markdown = [tables_to_html(page) for page in markdown]
    return _FinishedPages(markdown=markdown, text=text, removed=removed)


def _applicable_parameters(conversion: Conversion, options: ConvertOptions) -> frozenset[str]:
    """The parameters this conversion honours (the rest, when set, are ``not_applied``)."""
    applied = set(_ALWAYS_APPLIED)
    if conversion.pages is not None:
        applied |= _PAGE_PARAMETERS
    if conversion.isolated_pages:
        applied |= _FAILED_PAGE_PARAMETERS
        if options.replace_failed_page_mode == "error_message":
            applied |= _FAILED_PAGE_MESSAGE_PARAMETERS
    if conversion.source_format == "pdf":
        applied |= {"skip_diagonal_text", "fast_mode"}
    if options.ocr == "enabled" and conversion.isolated_pages:
        # Only PDF pages and image files are OCRed (not pictures inside Office files).
        applied |= _OCR_PARAMETERS
    return frozenset(applied)


def convert_options(config: Mapping[str, Any]) -> ConvertOptions:
    """The conversion options a parse config asks for (OCR on unless ``disable_ocr``)."""
    codes: list[str] = []
    languages = config.get("languages")
    if isinstance(languages, list | tuple):
        codes.extend(str(code) for code in languages)
    lang = config.get("lang")
    if isinstance(lang, str):
        # The reference takes one code; "en,de" and "en+de" are accepted as well.
        codes.extend(code for code in re.split(r"[\s,+]+", lang) if code)
    tolerance = config.get("page_error_tolerance")
    if tolerance is None:
        tolerance = 0.0
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
        raise DocumentError(f"invalid page_error_tolerance {tolerance!r}: use 0 to 1")
    if not 0 <= tolerance <= 1:
        raise DocumentError(f"invalid page_error_tolerance {tolerance!r}: use 0 to 1")
    mode = config.get("replace_failed_page_mode") or "raw_text"
    if mode not in _FAILED_PAGE_MODES:
        raise DocumentError(
            f"invalid replace_failed_page_mode {str(mode)[:40]!r}: "
            "use raw_text, blank_page or error_message"
        )
    prefix = config.get("replace_failed_page_with_error_message_prefix")
    suffix = config.get("replace_failed_page_with_error_message_suffix")
    return ConvertOptions(
        ocr="disabled" if config.get("disable_ocr") else "enabled",
        languages=tuple(codes),
        skip_diagonal_text=bool(config.get("skip_diagonal_text")),
        page_error_tolerance=float(tolerance),
        replace_failed_page_mode=_FAILED_PAGE_MODES[mode],
        failed_page_prefix=DEFAULT_FAILED_PAGE_PREFIX if prefix is None else str(prefix),
        failed_page_suffix=DEFAULT_FAILED_PAGE_SUFFIX if suffix is None else str(suffix),
        pdf_layout=not config.get("fast_mode"),
    )


def convert_document(
    path: str | Path,
    file_name: str | None = None,
    mime_type: str | None = None,
    *,
    pages: PageSelection | None = None,
    options: ConvertOptions | None = None,
    progress: ProgressCallback | None = None,
) -> Conversion:
    """Convert one document to markdown or raise ``DocumentError`` saying why it cannot be.

    The format comes from ``file_name`` (the stored ``path`` may have no extension), then
    ``mime_type``. ``pages`` applies to paged formats (PDF, multi-page TIFF, decks,
    workbooks). Without ``options`` nothing is OCRed, so scans and images fail with
    ``NO_TEXT_LAYER``-style messages. ``progress(done, total)`` is called as pages are
    converted. An unreadable ``path`` raises ``OSError``: that is the storage's fault,
    not the document's.
    """
    path = Path(path)
    selection = pages or PageSelection()
    options = options or ConvertOptions()
    size = path.stat().st_size
    if size == 0:
        raise DocumentError("empty file (0 bytes)")
    fmt = _format_of(path, file_name, mime_type)
    if fmt in _UNSUPPORTED:
        raise UnsupportedFormatError(f"unsupported format .{fmt}: {_UNSUPPORTED[fmt]}")
    if fmt in _AUDIO_VIDEO:
        raise UnsupportedFormatError(
            f"unsupported format .{fmt}: audio and video files are not supported"
        )
    if fmt in _IMAGES:
        return _convert_image(path, fmt, selection, options, progress)
    source_format = fmt or "unknown"
    if fmt in office.LIBREOFFICE_TARGETS:
        # LibreOffice makes the OOXML twin; from here on it is read as that format.
        twin = io.BytesIO(office.convert(path, fmt))
        fmt = office.LIBREOFFICE_TARGETS[fmt]
        markdown = _markitdown_convert_or_repair(twin, fmt, file_name or path.name)
    else:
        fmt = _check_container(path, fmt)
        source_format = fmt or "unknown"  # a nameless PDF is known by its header
        if fmt == "pdf":
            return _convert_pdf(path, selection, options, progress)
        if fmt == "eml":
            markdown = _convert_eml(path)
        else:
            with path.open("rb") as stream:
                markdown = _markitdown_convert_or_repair(stream, fmt, file_name or path.name)
    if fmt in ("xlsx", "xls"):
        markdown = clear_blank_cells(markdown)
    elif fmt == "pptx":
        markdown = drop_slide_notes(markdown)
    _require_text(markdown, fmt)
    split = _split_pages(markdown, fmt)
    if split is None:
        if progress is not None:
            progress(1, 1)
        return Conversion(markdown=markdown, source_format=source_format)
    indices = _select(selection, len(split))
    converted = tuple(Page(index, split[index]) for index in indices)
    if progress is not None:
        progress(len(indices), len(indices))
    return Conversion(
        markdown=render_pages([(page.index, page.markdown) for page in converted]),
        source_format=source_format,
        pages=converted,
        page_count=len(split),
    )


def count_pages(
    path: str | Path, file_name: str | None = None, *, config: Mapping[str, Any] | None = None
) -> int | None:
    """Pages of a PDF or multi-page image without converting it (None for other formats).

    Cheap (nothing is rendered or parsed beyond the page tree) and never raises for a
    bad document: an unreadable one gives None. With a parse ``config`` the count is of
    the pages ``target_pages`` and ``max_pages`` select.
    """
    path = Path(path)
    try:
        fmt = _format_of(path, file_name, None)
        if fmt in ("", "pdf"):
            with path.open("rb") as stream:
                is_pdf = b"%PDF-" in stream.read(1024)
            total = pdfium_pages.pdf_page_count(path) if is_pdf else None
        elif fmt in _MULTI_FRAME_IMAGES:
            total = tesseract_ocr.frame_count(path)
        elif fmt in _IMAGES:
            total = 1
        else:
            total = None
    except (OSError, ValueError):
        return None
    if total is None or config is None:
        return total
    try:
        selection = PageSelection(
            target_pages=parse_page_spec(config.get("target_pages"), "target_pages"),
            max_pages=_max_pages(config.get("max_pages"), config.get("max_pages_enforced")),
        )
    except DocumentError:
        return total
    return len(selection.apply(total))


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
            parts.append(_number_template("\n\n" if separator is None else separator, index))
        parts.append(_number_template(prefix or "", index) + text)
        parts.append(_number_template(suffix or "", index))
    return "".join(parts)


def parse_page_spec(
    value: object, field: str = "target_pages"
) -> tuple[tuple[int, int], ...] | None:
    """Read 0-indexed page ranges from ``"0,2-4"`` or ``[0, 2, 3]``; ``None`` when unset."""
    if value is None or value in ("", []):
        return None
    invalid = DocumentError(
        f"invalid {field} {str(value)[:60]!r}: use 0-indexed pages like '0,2-4'"
    )
    ranges: list[tuple[int, int]] = []
    if isinstance(value, str):
        for raw in value.split(","):
            start, dash, end = raw.strip().partition("-")
            if not start and not dash:
                continue
            if not start.strip().isdigit() or (dash and not end.strip().isdigit()):
                raise invalid
            first = int(start)
            last = int(end) if dash else first
            if last < first:
                raise invalid
            ranges.append((first, last))
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise invalid
            ranges.append((item, item))
    else:
        raise invalid
    if not ranges:
        raise invalid
    return tuple(sorted(set(ranges)))


def applied_parameters(config: Mapping[str, Any], applied: frozenset[str]) -> list[str]:
    """Names of output-affecting parameters that are set and this engine honoured."""
    return sorted(
        name
        for name, value in _output_parameters(config)
        if name in applied or _HONOURED_BY_DESIGN.get(name, object()) == value
    )


def not_applied_parameters(config: Mapping[str, Any], applied: frozenset[str]) -> list[str]:
    """Names of output-affecting parameters that are set but this engine ignores."""
    return sorted(
        name
        for name, value in _output_parameters(config)
        if name not in applied and _HONOURED_BY_DESIGN.get(name, object()) != value
    )


@functools.cache
def engine_version() -> str:
    """The PDF layout rules' version and the installed markitdown's, recorded with every
    result (``models.ENGINE_VERSIONS`` moves with the layout version, for dedup)."""
    return (
        f"layout-{pdf_layout.LAYOUT_VERSION}+markitdown-{importlib.metadata.version('markitdown')}"
    )


def _output_parameters(config: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in config.items():
        if value is None or value is False or value in ("", [], {}):
            continue
        if name in _NON_OUTPUT_PARAMETERS or name.startswith(_NON_OUTPUT_PREFIXES):
            continue
        yield name, value


# ------------------------------------------------------------------ pages and OCR


def _select(selection: PageSelection, page_count: int) -> list[int]:
    indices = selection.apply(page_count)
    if not indices:
        raise DocumentError(
            f"no page selected: target_pages names none of the document's "
            f"{page_count} pages (0-indexed)"
        )
    return indices


def _split_pages(markdown: str, fmt: str) -> list[str] | None:
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
                raise DocumentError(_limit(f"page {index + 1} could not be parsed: {error}"))
            raise DocumentError(
                _limit(
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
                _number_template(self.options.failed_page_prefix, index)
                + error
                + _number_template(self.options.failed_page_suffix, index)
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


def _convert_pdf(
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
        indices = _select(selection, page_count)
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
                    layout_error=_limit(f"{type(exc).__name__}: {exc}"),
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


def _convert_image(
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
            frames = getattr(image, "n_frames", 1) if fmt in _MULTI_FRAME_IMAGES else 1
            indices = _select(selection, frames)

            def convert(index: int) -> Page:
                def render() -> tuple[Image, int | None]:
                    try:
                        image.seek(index)
                        return tesseract_ocr.prepare_image(image), tesseract_ocr.declared_dpi(image)
                    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
                        raise DocumentError(
                            _limit(f"corrupted file: the .{fmt} image cannot be decoded ({exc})")
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
            _limit(f"no page could be parsed: page {first.index + 1}: {first.error}")
        )
    if any(page.source == "unread" for page in pages):
        return DocumentError(run.no_text_message())
    if any(page.source == "ocr" for page in pages):
        return DocumentError(f"no extractable text: OCR found no text {where}")
    return DocumentError("empty document: no text content found")


# ------------------------------------------------------------------ format checks


def _format_of(path: Path, file_name: str | None, mime_type: str | None) -> str:
    for name in (file_name, path.name):
        if name:
            suffix = Path(name).suffix.lower().lstrip(".")
            if suffix:
                return suffix
    if mime_type:
        guessed = mimetypes.guess_extension(mime_type.split(";")[0].strip(), strict=False)
        if guessed:
            return guessed.lstrip(".")
    return ""


def _check_container(path: Path, fmt: str) -> str:
    """Reject files whose bytes are not what their extension claims; return the format."""
    with path.open("rb") as stream:
        head = stream.read(1024)
    if not fmt and head.startswith(b"%PDF-"):
        # Stored without a name or type: PDFs still need the page-aware path.
        return "pdf"
    if fmt == "pdf" and b"%PDF-" not in head:
        raise DocumentError("corrupted file: not a PDF (the %PDF header is missing)")
    if fmt in _OFFICE_ZIP and head.startswith(_OLE_MAGIC):
        # Password-protected OOXML files are stored inside an OLE2 container.
        raise DocumentError(
            f"encrypted document: the .{fmt} file is password-protected "
            f"(or is a legacy Office file renamed to .{fmt})"
        )
    if fmt == "xls" and not head.startswith(_OLE_MAGIC) and zipfile.is_zipfile(path):
        return "xlsx"
    if fmt in _ZIP_PACKAGES:
        if not zipfile.is_zipfile(path):
            raise DocumentError(
                f"corrupted file: the .{fmt} file is not a valid zip package (damaged or truncated)"
            )
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if fmt == "zip" and any(info.flag_bits & 0x1 for info in archive.infolist()):
                raise DocumentError("encrypted archive: password required")
        required = _REQUIRED_PART.get(fmt)
        if required is not None and required not in names:
            raise DocumentError(
                f"corrupted file: the .{fmt} package lacks {required} (not a .{fmt} document)"
            )
    return fmt


def _require_text(markdown: str, fmt: str) -> None:
    """Raise when a conversion produced no readable text."""
    if not markdown.strip():
        if fmt in _TEXT_FORMATS:
            raise DocumentError("empty document: the file contains only whitespace")
        raise DocumentError("empty document: no text content found")
    visible = markdown
    if fmt in _SPREADSHEETS:
        # Sheet names are headings markitdown adds itself, not content of the file.
        visible = re.sub(r"(?m)^## .*$", "", visible)
    if fmt == "zip" and "\n## File: " not in f"\n{markdown}":
        raise DocumentError("empty document: the archive contains no convertible file")
    visible = re.sub(r"<!--.*?-->|[\s|:#*_>-]+", "", visible, flags=re.DOTALL)
    if not visible:
        if fmt in _SPREADSHEETS:
            raise DocumentError("empty document: the spreadsheet has no cell values")
        raise DocumentError("empty document: no text content found")


# ------------------------------------------------------------------ conversions


@functools.cache
def _markitdown() -> MarkItDown:
    """The process-wide converter, built on first use (it loads an ONNX model)."""
    from markitdown import MarkItDown

    _quiet_third_party_output()
    return MarkItDown(enable_plugins=False)


def _quiet_third_party_output() -> None:
    # pdfminer logs a warning for every odd object of a malformed PDF; a batch of real
    # files would bury the worker's own log lines.
    for name in ("pdfminer", "pdfplumber", "pypdfium2"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # xlrd prints file warnings to the sys.stdout it captured at import (a default
    # argument), so no later redirection reaches it; hand it a sink instead. pandas
    # looks ``open_workbook`` up on the module at call time.
    import xlrd

    if not isinstance(xlrd.open_workbook, functools.partial):
        xlrd.open_workbook = functools.partial(xlrd.open_workbook, logfile=_Discard())


class _Discard(io.TextIOBase):
    """A text sink for libraries that insist on printing diagnostics."""

    def write(self, text: str) -> int:
        """Drop ``text``."""
        return len(text)


def _markitdown_convert(stream: BinaryIO, fmt: str, file_name: str | None) -> str:
    """Run markitdown on ``stream`` and map its failures to ``DocumentError``."""
    from markitdown import (
        FileConversionException,
        StreamInfo,
        UnsupportedFormatException,
    )

    converter = _markitdown()
    info = StreamInfo(
        extension=f".{fmt}" if fmt else None,
        mimetype=mimetypes.guess_type(f"x.{fmt}", strict=False)[0] if fmt else None,
        # A file name, never the local path: markitdown quotes it in ZIP output.
        filename=file_name,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = converter.convert_stream(stream, stream_info=info)
    except UnsupportedFormatException:
        if not fmt:
            raise UnsupportedFormatError(
                "unsupported format: the file type could not be recognised"
            ) from None
        raise UnsupportedFormatError(f"unsupported format .{fmt}") from None
    except FileConversionException as exc:
        raise _describe_failure(exc, fmt) from None
    return result.markdown.strip()


def _markitdown_convert_or_repair(stream: BinaryIO, fmt: str, file_name: str | None) -> str:
    """``_markitdown_convert``, retried once on a repaired copy of a .docx/.pptx that fails.

    markitdown fails a whole document over one part it cannot read (an image linked
    from outside the package, an unclassifiable shape); ``office.repair_package`` drops
    just that part. When the repair changes nothing or fails too, the first error stands.
    """
    try:
        return _markitdown_convert(stream, fmt, file_name)
    except DocumentError as failure:
        if fmt not in office.REPAIRABLE:
            raise
        stream.seek(0)
        repaired = office.repair_package(stream.read(), fmt)
        if repaired is None:
            raise
        try:
            return _markitdown_convert(io.BytesIO(repaired), fmt, file_name)
        except DocumentError:
            raise failure from None


def _convert_eml(path: Path) -> str:
    """Render an email as a header block plus its text body (HTML body if no text)."""
    with path.open("rb") as stream:
        message = email.message_from_binary_file(stream, policy=email.policy.default)
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default
        raise DocumentError("corrupted file: not a readable email message")
    lines = []
    for header in ("From", "To", "Cc", "Subject", "Date"):
        value = _header(message, header)
        if value:
            lines.append(f"- **{header}:** {value}")
    attachments = [name for part in message.iter_attachments() if (name := part.get_filename())]
    if attachments:
        lines.append(f"- **Attachments:** {', '.join(attachments)}")

    body = ""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        body = _part_text(plain)
    else:
        html = message.get_body(preferencelist=("html",))
        if html is not None:
            body = _html_to_markdown(_part_text(html))
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in body.splitlines()))
    if not body.strip() and not _header(message, "Subject"):
        raise DocumentError("empty document: the email has no subject and no text body")
    return "\n".join(lines) + "\n\n" + body.strip()


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = str(message.get(name) or "")
    except (ValueError, IndexError, TypeError, AttributeError):
        # The structured header parser still crashes on some malformed address lists;
        # the raw value is better than failing the whole message.
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), "")
    return " ".join(str(value).split())


def _part_text(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeDecodeError):  # unknown or lying charset declaration
        payload = part.get_payload(decode=True) or b""
        return bytes(payload).decode("utf-8", errors="replace")


def _html_to_markdown(html: str) -> str:
    return _markitdown_convert(io.BytesIO(html.encode("utf-8")), "html", None)


# ------------------------------------------------------------------ error mapping


def _describe_failure(exc: BaseException, fmt: str) -> Exception:
    """Turn a markitdown conversion failure into a readable error.

    markitdown wraps what each converter raised in ``FileConversionException.attempts``;
    the causes there say what is wrong with the file.
    """
    from markitdown import MissingDependencyException
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.psexceptions import PSException

    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, MemoryError):
            return cause  # not the document's fault: let the worker retry elsewhere
        if isinstance(cause, MissingDependencyException):
            return RuntimeError(f"markitdown is installed without support for .{fmt} files")
    kind = f".{fmt}" if fmt else "file"
    for cause in causes:
        if isinstance(cause, PDFPasswordIncorrect):
            return DocumentError("encrypted PDF: password required")
        if isinstance(cause, PDFEncryptionError):
            return DocumentError(_limit(f"encrypted PDF: {_short(cause) or 'cannot decrypt'}"))
    for cause in causes:
        if isinstance(cause, zipfile.BadZipFile):
            return DocumentError(
                f"corrupted file: the {kind} package is damaged or truncated ({_short(cause)})"
            )
        if isinstance(cause, PSException):
            return DocumentError(
                _limit(f"corrupted file: the PDF structure is damaged ({_short(cause)})")
            )
        if isinstance(cause, UnicodeDecodeError):
            return DocumentError(
                "corrupted file: the text is not in a recognisable character encoding"
            )
        if type(cause).__name__ in {"XMLSyntaxError", "ParseError", "ExpatError"}:
            return DocumentError(
                _limit(f"corrupted file: malformed XML inside the {kind} ({_short(cause)})")
            )
    root = causes[-1] if causes else exc
    detail = _short(root)
    reason = f"{type(root).__name__}: {detail}" if detail else type(root).__name__
    return DocumentError(_limit(f"corrupted file: could not read the {kind} ({reason})"))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions behind ``exc``: converter attempts first, then their chains."""
    attempts = getattr(exc, "attempts", None) or []
    roots = [a.exc_info[1] for a in attempts if a.exc_info and a.exc_info[1] is not None]
    seen: set[int] = set()
    for root in roots or [exc]:
        current: BaseException | None = root
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            yield current
            current = current.__cause__ or current.__context__


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _limit(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."


def _number_template(template: str, index: int) -> str:
    number = str(index + 1)
    return template.replace("{pageNumber}", number).replace("{page_number}", number)


def _max_pages(*values: object) -> int | None:
    """The tightest positive page cap among ``values``; 0 and ``None`` mean no cap."""
    caps = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return min(caps) if caps else None

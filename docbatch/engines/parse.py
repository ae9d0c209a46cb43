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

The parts: ``conversion`` (options, pages, rendering), ``formats`` (what a file is,
markitdown and ``.eml`` conversions, readable failures), ``page_runs`` (PDFs page by page,
images frame by frame); this module chooses among them and shapes the output.

Heavy libraries (markitdown pulls in onnxruntime, pandas, pdfminer) are imported on first
use, so importing this module to hand ``parse_document`` to a process pool stays cheap.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docbatch.engines import layout as pdf_layout
from docbatch.engines import ocr as tesseract_ocr
from docbatch.engines import office
from docbatch.engines import pdf as pdfium_pages
from docbatch.engines.base import EngineRequest, EngineResult, report_progress
from docbatch.engines.conversion import (
    DEFAULT_FAILED_PAGE_PREFIX,
    DEFAULT_FAILED_PAGE_SUFFIX,
    FAILED_PAGE_MODES,
    NO_TEXT_LAYER,
    OCR_DISABLED,
    Conversion,
    ConvertOptions,
    Page,
    PageSelection,
    ProgressCallback,
    render_pages,
)
from docbatch.engines.formats import (
    AUDIO_VIDEO,
    IMAGES,
    MULTI_FRAME_IMAGES,
    UNSUPPORTED,
    check_container,
    convert_eml,
    format_of,
    markitdown_convert_or_repair,
    require_text,
)
from docbatch.engines.page_runs import convert_image, convert_pdf, select_pages, split_pages
from docbatch.engines.pages import (
    clear_blank_cells,
    drop_slide_notes,
    markdown_to_text,
    remove_running_lines,
    tables_to_html,
)
from docbatch.errors import DocumentError, UnsupportedFormatError
from docbatch.models import NON_OUTPUT_PARSE_FIELDS

__all__ = [
    "ENGINE_NAME",
    "NO_TEXT_LAYER",
    "OCR_DISABLED",
    "ConvertOptions",
    "PageSelection",
    "applied_parameters",
    "convert_document",
    "convert_options",
    "count_pages",
    "engine_version",
    "not_applied_parameters",
    "parse_document",
    "parse_page_spec",
    "render_pages",
]

ENGINE_NAME = "docbatch"

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
    if mode not in FAILED_PAGE_MODES:
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
        replace_failed_page_mode=FAILED_PAGE_MODES[mode],
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
    fmt = format_of(path, file_name, mime_type)
    if fmt in UNSUPPORTED:
        raise UnsupportedFormatError(f"unsupported format .{fmt}: {UNSUPPORTED[fmt]}")
    if fmt in AUDIO_VIDEO:
        raise UnsupportedFormatError(
            f"unsupported format .{fmt}: audio and video files are not supported"
        )
    if fmt in IMAGES:
        return convert_image(path, fmt, selection, options, progress)
    source_format = fmt or "unknown"
    if fmt in office.LIBREOFFICE_TARGETS:
        # LibreOffice makes the OOXML twin; from here on it is read as that format.
        twin = io.BytesIO(office.convert(path, fmt))
        fmt = office.LIBREOFFICE_TARGETS[fmt]
        markdown = markitdown_convert_or_repair(twin, fmt, file_name or path.name)
    else:
        fmt = check_container(path, fmt)
        source_format = fmt or "unknown"  # a nameless PDF is known by its header
        if fmt == "pdf":
            return convert_pdf(path, selection, options, progress)
        if fmt == "eml":
            markdown = convert_eml(path)
        else:
            with path.open("rb") as stream:
                markdown = markitdown_convert_or_repair(stream, fmt, file_name or path.name)
    if fmt in ("xlsx", "xls"):
        markdown = clear_blank_cells(markdown)
    elif fmt == "pptx":
        markdown = drop_slide_notes(markdown)
    require_text(markdown, fmt)
    split = split_pages(markdown, fmt)
    if split is None:
        if progress is not None:
            progress(1, 1)
        return Conversion(markdown=markdown, source_format=source_format)
    indices = select_pages(selection, len(split))
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
        fmt = format_of(path, file_name, None)
        if fmt in ("", "pdf"):
            with path.open("rb") as stream:
                is_pdf = b"%PDF-" in stream.read(1024)
            total = pdfium_pages.pdf_page_count(path) if is_pdf else None
        elif fmt in MULTI_FRAME_IMAGES:
            total = tesseract_ocr.frame_count(path)
        elif fmt in IMAGES:
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


def _max_pages(*values: object) -> int | None:
    """The tightest positive page cap among ``values``; 0 and ``None`` mean no cap."""
    caps = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return min(caps) if caps else None

"""Parse engine: one document on disk → markdown.

markitdown does the conversion (PDF, Office, HTML, text, CSV, JSON, EPUB, ZIP); ``.eml``
goes through the stdlib ``email`` package. PDFs are converted page by page so that the
page parameters of the reference API (``target_pages``, ``max_pages``, ``page_separator``,
``page_prefix``, ``page_suffix``) can be honoured. Every failure that is the document's
fault becomes a ``DocumentError`` whose message a user can read on its own.

Heavy libraries (markitdown pulls in onnxruntime, pandas, pdfminer) are imported on first
use, so importing this module to hand ``parse_document`` to a process pool stays cheap.
"""

from __future__ import annotations

import email
import email.policy
import functools
import importlib.metadata
import io
import logging
import mimetypes
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.errors import DocumentError, UnsupportedFormatError

if TYPE_CHECKING:
    from markitdown import MarkItDown

ENGINE_NAME = "markitdown"
MAX_MESSAGE_CHARS = 300

NO_TEXT_LAYER = (
    "no extractable text: the document has no text layer (scanned PDF or image) "
    "and OCR is not available"
)

# Formats with no converter, each with the advice a user can act on.
_UNSUPPORTED: dict[str, str] = {
    "doc": "legacy Word 97-2003 documents are not supported; convert to .docx",
    "dot": "legacy Word 97-2003 templates are not supported; convert to .docx",
    "ppt": "legacy PowerPoint 97-2003 presentations are not supported; convert to .pptx",
    "pps": "legacy PowerPoint 97-2003 presentations are not supported; convert to .pptx",
    "odt": "OpenDocument text is not supported; convert to .docx or PDF",
    "ods": "OpenDocument spreadsheets are not supported; convert to .xlsx",
    "odp": "OpenDocument presentations are not supported; convert to .pptx",
    # markitdown would pass RTF through as plain text, control words and all.
    "rtf": "Rich Text Format is not supported; convert to .docx or PDF",
    "msg": "Outlook .msg files are not supported; save the message as .eml",
    "pages": "Apple Pages documents are not supported; export to .docx or PDF",
    "key": "Apple Keynote presentations are not supported; export to .pptx or PDF",
    "numbers": "Apple Numbers spreadsheets are not supported; export to .xlsx",
    "xlsb": "binary Excel workbooks are not supported; save as .xlsx",
}
_AUDIO_VIDEO = frozenset(
    {"mp3", "wav", "m4a", "aac", "flac", "ogg", "oga", "mp4", "m4v", "mov", "avi", "mkv", "webm"}
)
_IMAGES = frozenset(
    {"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "heif", "jp2"}
)
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

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# Parse parameters that change nothing in the output: delivery, identity, caching,
# time limits, credentials and storage locations.
_NON_OUTPUT_PARAMETERS = frozenset(
    {
        "priority",
        "project_id",
        "pipeline_id",
        "invalidate_cache",
        "do_not_cache",
        "http_proxy",
        "azure_openai_key",
        "gpt4o_api_key",
        "vendor_multimodal_api_key",
        "output_s3_path_prefix",
        "output_s3_region",
        "output_bucket",
        "outputBucket",
        "input_s3_region",
        "resource_info",
        "custom_metadata",
        "type",
    }
)
_NON_OUTPUT_PREFIXES = ("webhook_", "job_timeout_")

# Settings this engine satisfies by construction: it never runs OCR or an LLM.
_HONOURED_BY_DESIGN: dict[str, object] = {
    "disable_ocr": True,
    "fast_mode": True,
    "parse_mode": "parse_page_without_llm",
}

_PAGE_PARAMETERS = frozenset(
    {
        "page_separator",
        "page_prefix",
        "page_suffix",
        "max_pages",
        "max_pages_enforced",
        "target_pages",
    }
)


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
class Conversion:
    """A converted document: its markdown and, for PDFs, the markdown of each page."""

    markdown: str
    source_format: str
    pages: tuple[tuple[int, str], ...] | None = None
    """``(0-indexed page number, markdown)`` of each converted page (PDF only)."""
    page_count: int | None = None


def parse_document(request: EngineRequest) -> EngineResult:
    """Convert ``request.path`` to markdown, honouring the cheap page parameters."""
    config = request.config
    selection = PageSelection(
        target_pages=parse_page_spec(config.get("target_pages"), "target_pages"),
        max_pages=_max_pages(config.get("max_pages"), config.get("max_pages_enforced")),
    )
    conversion = convert_document(
        request.path, request.file_name, request.mime_type, pages=selection
    )
    metadata: dict[str, Any] = {
        "engine": ENGINE_NAME,
        "engine_version": engine_version(),
        "source_format": conversion.source_format,
    }
    if conversion.pages is None:
        content = conversion.markdown
        applied: frozenset[str] = frozenset()
    else:
        content = render_pages(
            conversion.pages,
            separator=config.get("page_separator"),
            prefix=config.get("page_prefix"),
            suffix=config.get("page_suffix"),
        )
        applied = _PAGE_PARAMETERS
        metadata["pages"] = conversion.page_count
        metadata["pages_parsed"] = len(conversion.pages)
    metadata["characters"] = len(content)
    metadata["not_applied"] = not_applied_parameters(config, applied)
    return EngineResult(
        content=content, content_type="text/markdown", extension="md", metadata=metadata
    )


def convert_document(
    path: str | Path,
    file_name: str | None = None,
    mime_type: str | None = None,
    *,
    pages: PageSelection | None = None,
) -> Conversion:
    """Convert one document to markdown or raise ``DocumentError`` saying why it cannot be.

    The format comes from ``file_name`` (the stored ``path`` may have no extension), then
    ``mime_type``. ``pages`` applies to PDFs only. An unreadable ``path`` raises
    ``OSError``: that is the storage's fault, not the document's.
    """
    path = Path(path)
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
        raise DocumentError(f"no extractable text: .{fmt} is an image and OCR is not available yet")
    fmt = _check_container(path, fmt)

    if fmt == "pdf":
        return _convert_pdf(path, pages or PageSelection())
    if fmt == "eml":
        markdown = _convert_eml(path)
    else:
        with path.open("rb") as stream:
            markdown = _markitdown_convert(stream, fmt, file_name or path.name)
    _require_text(markdown, fmt)
    return Conversion(markdown=markdown, source_format=fmt or "unknown")


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


def not_applied_parameters(config: Mapping[str, Any], applied: frozenset[str]) -> list[str]:
    """Names of output-affecting parameters that are set but this engine ignores."""
    ignored: list[str] = []
    for name, value in config.items():
        if value is None or value is False or value in ("", [], {}):
            continue
        if name in _NON_OUTPUT_PARAMETERS or name.startswith(_NON_OUTPUT_PREFIXES):
            continue
        if name in applied or _HONOURED_BY_DESIGN.get(name, object()) == value:
            continue
        ignored.append(name)
    return sorted(ignored)


@functools.cache
def engine_version() -> str:
    """The installed markitdown version, recorded with every result."""
    return importlib.metadata.version("markitdown")


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


def _convert_pdf(path: Path, selection: PageSelection) -> Conversion:
    """Convert the selected pages of a PDF one by one, each as its own one-page PDF.

    markitdown joins pages without a marker when any page looks like a form or table,
    so pages are split beforehand (with PDFium, which pdfplumber already depends on).
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code == pdfium_c.FPDF_ERR_PASSWORD:
            raise DocumentError("encrypted PDF: password required") from None
        raise DocumentError(
            "corrupted file: the PDF cannot be opened (damaged or truncated)"
        ) from None
    try:
        page_count = len(document)
        if page_count == 0:
            raise DocumentError("empty document: the PDF has no pages")
        indices = selection.apply(page_count)
        if not indices:
            raise DocumentError(
                f"no page selected: target_pages names none of the document's "
                f"{page_count} pages (0-indexed)"
            )
        pages = tuple((index, _convert_pdf_page(pdfium, document, index)) for index in indices)
    finally:
        document.close()
    if not any(text for _, text in pages):
        raise DocumentError(NO_TEXT_LAYER)
    markdown = render_pages(pages)
    return Conversion(markdown=markdown, source_format="pdf", pages=pages, page_count=page_count)


def _convert_pdf_page(pdfium: Any, document: Any, index: int) -> str:
    single = pdfium.PdfDocument.new()
    try:
        single.import_pages(document, [index])
        buffer = io.BytesIO()
        single.save(buffer)
    finally:
        single.close()
    buffer.seek(0)
    return _markitdown_convert(buffer, "pdf", None)


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

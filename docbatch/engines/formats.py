"""What a file is, and the conversions that are not page by page: format detection and
container checks, markitdown (with repairs), ``.eml`` through the stdlib, and the mapping
of converter failures onto messages a user can read.

Heavy libraries (markitdown pulls in onnxruntime, pandas, pdfminer) are imported on first
use.
"""

from __future__ import annotations

import email
import email.policy
import functools
import io
import logging
import mimetypes
import re
import warnings
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from docbatch.engines import office
from docbatch.errors import DocumentError, UnsupportedFormatError

if TYPE_CHECKING:
    from markitdown import MarkItDown


MAX_MESSAGE_CHARS = 300

# Formats with no converter, each with the advice a user can act on. (Legacy Office,
# OpenDocument and RTF go through LibreOffice: ``office.LIBREOFFICE_TARGETS``.)
UNSUPPORTED: dict[str, str] = {
    "msg": "Outlook .msg files are not supported; save the message as .eml",
    "pages": "Apple Pages documents are not supported; export to .docx or PDF",
    "key": "Apple Keynote presentations are not supported; export to .pptx or PDF",
    "numbers": "Apple Numbers spreadsheets are not supported; export to .xlsx",
    "xlsb": "binary Excel workbooks are not supported; save as .xlsx",
    # Pillow has no HEIF decoder without a plugin.
    "heic": "HEIC images are not supported; convert to PNG or JPEG",
    "heif": "HEIF images are not supported; convert to PNG or JPEG",
}
AUDIO_VIDEO = frozenset(
    {"mp3", "wav", "m4a", "aac", "flac", "ogg", "oga", "mp4", "m4v", "mov", "avi", "mkv", "webm"}
)
IMAGES = frozenset({"jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "jp2"})
MULTI_FRAME_IMAGES = frozenset({"tif", "tiff"})
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
PLAIN_SOURCES = frozenset({"txt", "text", "json", ""} | IMAGES)
"""Formats whose conversion is plain text (markdown only where a converter made a table)."""

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


# ------------------------------------------------------------------ format checks


def format_of(path: Path, file_name: str | None, mime_type: str | None) -> str:
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


def check_container(path: Path, fmt: str) -> str:
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


def require_text(markdown: str, fmt: str) -> None:
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

    quiet_third_party_output()
    return MarkItDown(enable_plugins=False)


def quiet_third_party_output() -> None:
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


def markitdown_convert_or_repair(stream: BinaryIO, fmt: str, file_name: str | None) -> str:
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


def convert_eml(path: Path) -> str:
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
            return DocumentError(
                limit_message(f"encrypted PDF: {_short(cause) or 'cannot decrypt'}")
            )
    for cause in causes:
        if isinstance(cause, zipfile.BadZipFile):
            return DocumentError(
                f"corrupted file: the {kind} package is damaged or truncated ({_short(cause)})"
            )
        if isinstance(cause, PSException):
            return DocumentError(
                limit_message(f"corrupted file: the PDF structure is damaged ({_short(cause)})")
            )
        if isinstance(cause, UnicodeDecodeError):
            return DocumentError(
                "corrupted file: the text is not in a recognisable character encoding"
            )
        if type(cause).__name__ in {"XMLSyntaxError", "ParseError", "ExpatError"}:
            return DocumentError(
                limit_message(f"corrupted file: malformed XML inside the {kind} ({_short(cause)})")
            )
    root = causes[-1] if causes else exc
    detail = _short(root)
    reason = f"{type(root).__name__}: {detail}" if detail else type(root).__name__
    return DocumentError(limit_message(f"corrupted file: could not read the {kind} ({reason})"))


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


def limit_message(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 3] + "..."

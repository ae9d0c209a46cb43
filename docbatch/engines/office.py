"""Legacy and OpenDocument files through LibreOffice headless: one file → OOXML bytes.

markitdown reads ``.docx``, ``.xlsx`` and ``.pptx`` but neither the Office 97-2003
binary formats nor OpenDocument nor RTF. The ``soffice`` program (LibreOffice, run
without a display) converts those to the matching OOXML format, which the parse engine
then reads like any other; ``LIBREOFFICE_TARGETS`` says which format becomes which.

Each conversion runs in a fresh temporary directory: its own LibreOffice profile (two
conversions at once never share one, and the user's profile is never touched), ``HOME``
and ``TMPDIR`` inside it, the input copied in under a safe name with the right
extension (stored files may have no extension, and names may hold any character). The
program runs in its own session so that a conversion past its time limit is stopped
with its whole process tree; the directory is removed whatever happened.

``repair_package`` mends the ``.docx`` and ``.pptx`` packages that markitdown fails on
as a whole over one part it cannot read (an image linked from outside the package, a
shape python-pptx cannot classify, a chart whose part is missing), so that the rest of
the text is kept.
"""

from __future__ import annotations

import contextlib
import functools
import io
import mmap
import os
import posixpath
import re
import shutil
import signal
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree

from docbatch.errors import DocumentError

SOFFICE_COMMANDS: tuple[str, ...] = ("soffice", "libreoffice")
"""The programs tried, in order, on ``PATH``."""
CONVERT_TIMEOUT_SECONDS = 120.0
WATCHDOG_GRACE_SECONDS = 5.0
"""How long past the time limit the ``timeout`` watchdog waits before killing."""
"""A conversion that takes longer is stopped and fails the document. A small file takes
1-2 s (most of it LibreOffice starting with a fresh profile); a large one tens of
seconds."""

LIBREOFFICE_TARGETS: dict[str, str] = {
    "doc": "docx",
    "dot": "docx",
    "odt": "docx",
    "ott": "docx",
    "rtf": "docx",
    "ods": "xlsx",
    "ots": "xlsx",
    "odp": "pptx",
    "otp": "pptx",
    "ppt": "pptx",
    "pps": "pptx",
}
"""Source format → the OOXML format LibreOffice converts it to."""

# The export filter of each target, named so that LibreOffice never has to guess.
_FILTERS = {
    "docx": "MS Word 2007 XML",
    "xlsx": "Calc MS Excel 2007 XML",
    "pptx": "Impress MS PowerPoint 2007 XML",
}
_KINDS = {
    "doc": "a Word 97-2003 document",
    "dot": "a Word 97-2003 template",
    "odt": "an OpenDocument text",
    "ott": "an OpenDocument text template",
    "rtf": "a Rich Text Format document",
    "ods": "an OpenDocument spreadsheet",
    "ots": "an OpenDocument spreadsheet template",
    "odp": "an OpenDocument presentation",
    "otp": "an OpenDocument presentation template",
    "ppt": "a PowerPoint 97-2003 presentation",
    "pps": "a PowerPoint 97-2003 slide show",
}
"""What each format is, for messages."""
# The ODF ``mimetype`` entry each OpenDocument format starts with.
_ODF_MIMETYPE_PREFIX = "application/vnd.oasis.opendocument."
_ODF_MIMETYPES = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ott": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "ots": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "otp": "application/vnd.oasis.opendocument.presentation",
}
_OLE_FORMATS = frozenset({"doc", "dot", "ppt", "pps"})
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RTF_MAGIC = b"{\\rtf"
_BOM = b"\xef\xbb\xbf"
_STDERR_NOISE = ("javaldx", "java may not function")


def soffice() -> str | None:
    """The LibreOffice program found on ``PATH``, or None when it is not installed."""
    return _find(SOFFICE_COMMANDS)


def installed() -> bool:
    """Whether LibreOffice (``soffice`` or ``libreoffice``) is installed."""
    return soffice() is not None


def not_installed_message(fmt: str) -> str:
    """Why a ``.fmt`` file cannot be read on a machine without LibreOffice."""
    return (
        f"LibreOffice is not installed (the soffice program): .{fmt} files need it; "
        "install it with scripts/install-system-deps.sh"
    )


def convert(path: Path, fmt: str, *, timeout: float = CONVERT_TIMEOUT_SECONDS) -> bytes:
    """The ``.fmt`` file at ``path`` converted to ``LIBREOFFICE_TARGETS[fmt]``, as bytes.

    Raises ``DocumentError`` when the file is not what its extension says, LibreOffice
    is missing, the conversion takes longer than ``timeout`` seconds or produces no file
    (a damaged or password-protected document). An unreadable ``path`` raises
    ``OSError``.
    """
    target = LIBREOFFICE_TARGETS[fmt]
    check_source(path, fmt)
    program = soffice()
    if program is None:
        _find.cache_clear()  # perhaps installed since the last look
        program = soffice()
    if program is None:
        raise DocumentError(not_installed_message(fmt))
    with tempfile.TemporaryDirectory(prefix="docbatch-office-") as work:
        root = Path(work)
        for name in ("profile", "home", "tmp", "out"):
            (root / name).mkdir()
        source = root / f"input.{fmt}"
        shutil.copyfile(path, source)
        command = [
            program,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={(root / 'profile').as_uri()}",
            "--convert-to",
            f"{target}:{_FILTERS[target]}",
            "--outdir",
            str(root / "out"),
            str(source),
        ]
        if watchdog := _find(("timeout",)):
            # coreutils' timeout kills the conversion's process group even if this
            # process dies first (an engine process stopped by its pool): no orphan
            # LibreOffice outlives its time limit.
            command = [watchdog, "--signal=KILL", f"{timeout + WATCHDOG_GRACE_SECONDS:g}", *command]
        stderr = _run(command, _environment(root), timeout, fmt)
        output = root / "out" / f"input.{target}"
        if not output.is_file() or output.stat().st_size == 0:
            detail = f" ({stderr})" if stderr else ""
            raise DocumentError(
                _limit(
                    f"corrupted file: LibreOffice could not convert the .{fmt} file; it is "
                    f"damaged, password-protected or not {_KINDS[fmt]}{detail}"
                )
            )
        return output.read_bytes()


def check_source(path: Path, fmt: str) -> None:
    """Raise ``DocumentError`` unless the bytes at ``path`` can be a ``.fmt`` file.

    LibreOffice imports any file it does not recognise as plain text, so random bytes
    would "convert"; the container is checked first. A ``.doc`` may also be RTF, HTML
    or a renamed ``.docx`` (Word opens all of them, and so does LibreOffice).
    """
    with path.open("rb") as stream:
        head = stream.read(512)
    kind = _KINDS[fmt]
    if fmt in _ODF_MIMETYPES:
        _check_odf(path, fmt)
    elif fmt in _OLE_FORMATS:
        word = fmt in ("doc", "dot")
        if head.startswith(_OLE_MAGIC):
            # An OLE2 container holds many things (Excel, Outlook, an encrypted .docx):
            # the main stream's name, UTF-16 in the directory, says which.
            stream_name = "WordDocument" if word else "PowerPoint Document"
            if not _contains(path, stream_name.encode("utf-16-le")):
                raise DocumentError(
                    f"corrupted file: the .{fmt} file is an OLE2 container without the "
                    f"{stream_name} stream of {kind}"
                )
            return
        if zipfile.is_zipfile(path):
            # A renamed OOXML file, which Office and LibreOffice open all the same.
            _require_part(path, fmt, "word/document.xml" if word else "ppt/presentation.xml")
            return
        start = head.removeprefix(_BOM).lstrip()
        if word and (start.startswith(_RTF_MAGIC) or start.startswith(b"<")):
            return  # RTF, or HTML/XML saved with a .doc name
        raise DocumentError(f"corrupted file: the .{fmt} file is not {kind}")
    elif not head.removeprefix(_BOM).lstrip().startswith(_RTF_MAGIC):
        raise DocumentError(f"corrupted file: the .{fmt} file is not RTF (no {{\\rtf header)")


def _contains(path: Path, needle: bytes) -> bool:
    """Whether the file at ``path`` holds ``needle`` anywhere (memory-mapped, not read)."""
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return view.find(needle) != -1


def _require_part(path: Path, fmt: str, part: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            present = part in archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DocumentError(
            _limit(f"corrupted file: the .{fmt} package is damaged or truncated ({exc})")
        ) from None
    if not present:
        raise DocumentError(f"corrupted file: the .{fmt} file is a zip archive without {part}")


def _check_odf(path: Path, fmt: str) -> None:
    kind = _KINDS[fmt]
    if not zipfile.is_zipfile(path):
        raise DocumentError(
            f"corrupted file: the .{fmt} file is not a valid OpenDocument package "
            "(damaged or truncated)"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = ""
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
            manifest = b""
            if "META-INF/manifest.xml" in names:
                manifest = archive.read("META-INF/manifest.xml")
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise DocumentError(
            _limit(f"corrupted file: the .{fmt} package is damaged or truncated ({exc})")
        ) from None
    if b"encryption-data" in manifest:
        raise DocumentError(f"encrypted document: the .{fmt} file is password-protected")
    if "content.xml" not in names:
        raise DocumentError(f"corrupted file: the .{fmt} package lacks content.xml (not {kind})")
    family = mimetype.removeprefix(_ODF_MIMETYPE_PREFIX)
    if mimetype.startswith(_ODF_MIMETYPE_PREFIX) and not mimetype.startswith(_ODF_MIMETYPES[fmt]):
        rename = next(
            (f" (rename it to .{e})" for e, m in _ODF_MIMETYPES.items() if m == mimetype), ""
        )
        raise DocumentError(
            _limit(f"wrong extension: the .{fmt} file is an OpenDocument {family}{rename}")
        )


# ------------------------------------------------------------- OOXML repairs

REPAIRABLE = frozenset({"docx", "pptx"})
"""The formats ``repair_package`` can mend."""

_RELATIONSHIPS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_DOCX_RELS = re.compile(r"^word/_rels/(?P<part>[^/]+\.xml)\.rels$")
_IMAGEDATA_TAG = re.compile(rb"<[\w.-]+:imagedata\b[^>]*>")


def repair_package(data: bytes, fmt: str) -> bytes | None:
    """A copy of the ``.docx``/``.pptx`` package ``data`` without what markitdown cannot read.

    In a ``.docx``, image references to relationships with nothing inside the package
    (``TargetMode="External"`` or a missing part) are dropped: mammoth reads the
    picture as absent instead of failing. In a ``.pptx``, a shape python-pptx cannot
    classify becomes a text box (its text stays) and any other shape it cannot read is
    removed (ink, a chart without its part). None when there is nothing to repair or
    the package cannot be opened at all.
    """
    try:
        if fmt == "docx":
            return _repair_docx(data)
        if fmt == "pptx":
            return _repair_pptx(data)
    except (zipfile.BadZipFile, ElementTree.ParseError, KeyError, ValueError, OSError):
        return None
    return None


def _repair_docx(data: bytes) -> bytes | None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        mended: dict[str, bytes] = {}  # part → its content without the broken references
        for name in names:
            match = _DOCX_RELS.match(name)
            part = f"word/{match['part']}" if match else ""
            if part not in names:
                continue
            ids = _unreadable_targets(archive.read(name), names)
            if ids:
                content = archive.read(part)
                repaired = _drop_image_references(content, ids)
                if repaired != content:
                    mended[part] = repaired
        if not mended:
            return None
        output = io.BytesIO()
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as package:
            for info in archive.infolist():
                package.writestr(info, mended.get(info.filename) or archive.read(info.filename))
    return output.getvalue()


def _unreadable_targets(relationships: bytes, names: set[str]) -> list[bytes]:
    """Ids of the relationships (of a part in ``word/``) whose target is not in the zip."""
    ids: list[bytes] = []
    for relationship in ElementTree.fromstring(relationships).iter(
        f"{_RELATIONSHIPS_NS}Relationship"
    ):
        target = relationship.get("Target") or ""
        identifier = relationship.get("Id")
        if not identifier:
            continue
        if relationship.get("TargetMode") == "External":
            ids.append(identifier.encode())
            continue
        path = unquote(target)
        path = path.lstrip("/") if path.startswith("/") else posixpath.join("word", path)
        if posixpath.normpath(path) not in names:
            ids.append(identifier.encode())
    return ids


def _drop_image_references(part: bytes, ids: list[bytes]) -> bytes:
    """``part`` without ``r:embed`` (and VML ``r:id``) attributes naming ``ids``."""
    alternatives = b"|".join(re.escape(identifier) for identifier in ids)
    embed = re.compile(rb"\s[\w.-]+:embed\s*=\s*([\"'])(?:" + alternatives + rb")\1")
    reference = re.compile(rb"\s[\w.-]+:id\s*=\s*([\"'])(?:" + alternatives + rb")\1")
    part = embed.sub(b"", part)
    return _IMAGEDATA_TAG.sub(lambda tag: reference.sub(b"", tag.group(0)), part)


def _repair_pptx(data: bytes) -> bytes | None:
    from pptx import Presentation

    try:
        presentation = Presentation(io.BytesIO(data))
    except Exception:  # a package python-pptx cannot open at all is beyond repair here
        return None
    changed = False
    for slide in presentation.slides:
        changed |= _repair_shapes(slide.shapes._spTree, slide.shapes)
    if not changed:
        return None
    output = io.BytesIO()
    presentation.save(output)
    return output.getvalue()


def _repair_shapes(tree: Any, parent: Any) -> bool:
    """Mend or remove the shapes of ``tree`` (a slide or group) markitdown cannot read."""
    from pptx.oxml.ns import qn

    changed = False
    for element in list(tree.iter_shape_elms()):
        if element.tag == qn("p:grpSp"):
            changed |= _repair_shapes(element, parent)
        if _readable_shape(element, parent):
            continue
        changed = True
        if element.tag == qn("p:sp") and element.find(qn("p:txBody")) is not None:
            # A shape with neither preset nor custom geometry: as a text box, its text
            # is read like any other.
            properties = element.find(f"{qn('p:nvSpPr')}/{qn('p:cNvSpPr')}")
            if properties is not None:
                properties.set("txBox", "1")
                if _readable_shape(element, parent):
                    continue
        tree.remove(element)
    return changed


def _readable_shape(element: Any, parent: Any) -> bool:
    """Whether markitdown's deck converter can read the shape ``element`` (it reads these)."""
    from pptx.shapes.shapetree import SlideShapeFactory

    try:
        shape: Any = SlideShapeFactory(element, parent)  # any kind of shape
        _ = (shape.shape_type, shape.top, shape.left, shape.name)
        if shape.has_text_frame:
            _ = shape.text
        if shape.has_chart:
            _ = shape.chart
        if shape.has_table:
            _ = [cell.text for row in shape.table.rows for cell in row.cells]
    except Exception:  # whatever python-pptx raises, markitdown would fail on
        return False
    return True


def _run(command: list[str], environment: dict[str, str], timeout: float, fmt: str) -> str:
    """Run LibreOffice; the tail of what it printed on stderr (noise left out)."""
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=environment["HOME"],
            start_new_session=True,
        )
    except FileNotFoundError:  # removed since it was looked up
        _find.cache_clear()
        raise DocumentError(not_installed_message(fmt)) from None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise DocumentError(
            f"LibreOffice timed out after {timeout:g}s converting the .{fmt} file"
        ) from None
    finally:
        if process.poll() is None:  # interrupted: never leave it running
            _kill(process)
    return _tail(stderr)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Stop LibreOffice and every process it started (its session's process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


@functools.cache
def _find(commands: tuple[str, ...]) -> str | None:
    for command in commands:
        path = shutil.which(command)
        if path is not None:
            return path
    return None


def _environment(root: Path) -> dict[str, str]:
    # LibreOffice writes to $HOME (a .config directory) and $TMPDIR even with its own
    # profile; both stay inside the conversion's directory.
    environment = dict(os.environ)
    environment["HOME"] = str(root / "home")
    environment["TMPDIR"] = str(root / "tmp")
    return environment


def _tail(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines()]
    meaningful = [line for line in lines if line and not any(n in line for n in _STDERR_NOISE)]
    text = " ".join(meaningful[-2:])
    return text if len(text) <= 160 else text[:157] + "..."


def _limit(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."

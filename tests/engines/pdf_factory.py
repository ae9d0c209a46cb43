"""Small real PDFs written byte by byte, optionally with standard RC4 encryption.

No installed library writes encrypted PDFs (pypdfium2 cannot, pypdf is not installed),
so this follows the PDF 1.4 standard security handler (revision 2, 40-bit RC4): the
same bytes any PDF writer produces for that setting, which pdfminer and PDFium decrypt.

Pages can also carry a watermark drawn at 45° (for ``skip_diagonal_text``) or a line in
a damaged embedded font: its TrueType program claims a ``cmap`` table past the end of
the data, which pdfminer cannot read (so the page fails to convert) while PDFium still
reads the page's other text (its ``raw_text``).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Collection

# Padding string of the PDF standard security handler (PDF 1.7, 7.6.3.3).
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_PERMISSIONS = -4


def make_pdf(
    pages: list[str],
    *,
    user_password: str | None = None,
    owner_password: str = "owner",
    watermark: str | None = None,
    broken_font_pages: Collection[int] = (),
) -> bytes:
    """A PDF with one page per string (lines split on newlines), Helvetica 12pt.

    With ``user_password`` (``""`` allowed: readable without one) the page contents are
    encrypted; without it the file is plain. ``watermark`` is drawn diagonally across
    every page; pages in ``broken_font_pages`` (0-indexed) add a line in a damaged font.
    """
    file_id = hashlib.md5(b"docbatch-test-pdf", usedforsecurity=False).digest()
    key: bytes | None = None
    encrypt_dict = b""
    if user_password is not None:
        owner_entry = _rc4(_md5(_padded(owner_password))[:5], _padded(user_password))
        key = _md5(
            _padded(user_password) + owner_entry + struct.pack("<i", _PERMISSIONS) + file_id
        )[:5]
        user_entry = _rc4(key, _PAD)
        encrypt_dict = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
            owner_entry.hex().encode(),
            user_entry.hex().encode(),
            _PERMISSIONS,
        )

    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }

    def stream_object(number: int, data: bytes) -> bytes:
        if key is not None:
            object_key = _md5(key + struct.pack("<i", number)[:3] + b"\x00\x00")[:10]
            data = _rc4(object_key, data)
        return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    broken_font = 4 + 2 * len(pages)
    if broken_font_pages:
        objects.update(_broken_font_objects(broken_font, stream_object))
    for i, text in enumerate(pages):
        page_number, content_number = 4 + 2 * i, 5 + 2 * i
        fonts = b"/F1 3 0 R"
        stream = _content_stream(text)
        if watermark:
            stream += b"\n" + _watermark_stream(watermark)
        if i in broken_font_pages:
            fonts += b" /F2 %d 0 R" % broken_font
            stream += b"\nBT /F2 12 Tf 72 100 Td <00410042> Tj ET"
        objects[page_number] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << %s >> >> /Contents %d 0 R >>" % (fonts, content_number)
        )
        objects[content_number] = stream_object(content_number, stream)
    encrypt_number = None
    if encrypt_dict:
        encrypt_number = max(objects) + 1
        objects[encrypt_number] = encrypt_dict

    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    trailer = b"<< /Size %d /Root 1 0 R /ID [<%s> <%s>]" % (
        size,
        file_id.hex().encode(),
        file_id.hex().encode(),
    )
    if encrypt_number is not None:
        trailer += b" /Encrypt %d 0 R" % encrypt_number
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def _content_stream(text: str) -> bytes:
    commands = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in text.splitlines() or [""]:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        commands.append(f"({escaped}) Tj T*")
    commands.append("ET")
    return "\n".join(commands).encode("latin-1")


def _watermark_stream(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    # cos 45°, sin 45°: the text runs diagonally up across the page.
    return f"BT /F1 48 Tf 0.7071 0.7071 -0.7071 0.7071 150 250 Tm ({escaped}) Tj ET".encode(
        "latin-1"
    )


def _broken_font_objects(
    first: int, stream_object: Callable[[int, bytes], bytes]
) -> dict[int, bytes]:
    """A Type0 font whose embedded TrueType program points its cmap past its end."""
    descendant, descriptor, program = first + 1, first + 2, first + 3
    data = b"\x00\x01\x00\x00" + struct.pack(">HHHH", 1, 0, 0, 0)
    data += struct.pack(">4sLLL", b"cmap", 0, 1000, 10)
    return {
        first: (
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Damaged /Encoding /Identity-H "
            b"/DescendantFonts [%d 0 R] >>" % descendant
        ),
        descendant: (
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Damaged "
            b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            b"/FontDescriptor %d 0 R >>" % descriptor
        ),
        descriptor: (
            b"<< /Type /FontDescriptor /FontName /Damaged /Flags 4 /FontBBox [0 0 1000 1000] "
            b"/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 "
            b"/FontFile2 %d 0 R >>" % program
        ),
        program: stream_object(program, data),
    }


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)

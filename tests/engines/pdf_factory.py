"""Small real PDFs written byte by byte, optionally with standard RC4 encryption.

No installed library writes encrypted PDFs (pypdfium2 cannot, pypdf is not installed),
so this follows the PDF 1.4 standard security handler (revision 2, 40-bit RC4): the
same bytes any PDF writer produces for that setting, which pdfminer and PDFium decrypt.
"""

from __future__ import annotations

import hashlib
import struct

# Padding string of the PDF standard security handler (PDF 1.7, 7.6.3.3).
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_PERMISSIONS = -4


def make_pdf(
    pages: list[str], *, user_password: str | None = None, owner_password: str = "owner"
) -> bytes:
    """A PDF with one page per string (lines split on newlines), Helvetica 12pt.

    With ``user_password`` (``""`` allowed: readable without one) the page contents are
    encrypted; without it the file is plain.
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
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    for i, text in enumerate(pages):
        page_number, content_number = 4 + 2 * i, 5 + 2 * i
        objects[page_number] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_number
        )
        stream = _content_stream(text)
        if key is not None:
            object_key = _md5(key + struct.pack("<i", content_number)[:3] + b"\x00\x00")[:10]
            stream = _rc4(object_key, stream)
        objects[content_number] = (
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        )
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

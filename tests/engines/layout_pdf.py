"""Small PDFs drawn item by item, for the layout engine's tests.

``LayoutPdf`` places text runs at given positions in Helvetica or Helvetica-Bold (the
standard fonts every viewer has, so nothing is embedded), draws ruling lines, and writes
Arabic through a font whose ``ToUnicode`` map turns single-byte codes into Arabic
letters, the way a PDF with a subset font carries right-to-left text. Coordinates are
PDF points from the bottom-left corner of a US Letter page.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوية"
"""The letters ``arabic`` can draw, one code each (codes 0x41 on)."""
LAM_ALEF = "\u0644\u0627"
"""Drawn by ``arabic`` as one ligature glyph, as shaping engines set it."""
_LIGATURE_CODE = 0x41 + len(ARABIC_LETTERS)
CJK_CHARACTERS = "文書の品質を測る日本語処理"
"""The characters ``cjk`` can draw (codes after the ligature's)."""
_CJK_FIRST_CODE = _LIGATURE_CODE + 1
_LAST_CODE = _CJK_FIRST_CODE + len(CJK_CHARACTERS) - 1


@dataclass
class LayoutPdf:
    """A one-page PDF under construction."""

    width: float = 612
    height: float = 792
    _ops: list[str] = field(default_factory=list)

    def text(self, x: float, y: float, text: str, *, size: float = 10, bold: bool = False) -> None:
        """``text`` as one run starting at ``(x, y)`` (its baseline)."""
        font = "F2" if bold else "F1"
        self._ops.append(f"BT /{font} {size:g} Tf {x:g} {y:g} Td ({_escape(text)}) Tj ET")

    def words(self, x: float, y: float, words: list[str], *, gap: float, size: float = 10) -> float:
        """Each word as its own run, ``gap`` points apart, no space character between."""
        for word in words:
            self.text(x, y, word, size=size)
            x += helvetica_width(word, size) + gap
        return x

    def rule(self, x0: float, y0: float, x1: float, y1: float, *, width: float = 0.5) -> None:
        """A straight stroked line."""
        self._ops.append(f"{width:g} w {x0:g} {y0:g} m {x1:g} {y1:g} l S")

    def arabic(self, right: float, y: float, words: list[str], *, size: float = 12) -> None:
        """Arabic words (logical order) set right to left from ``right``, in visual order.

        Each word's glyphs are drawn left to right as displayed (the last letter first),
        words a space apart, the first word rightmost; ``LAM_ALEF`` is one glyph.
        """
        advance = 0.5 * size  # every glyph of the font is 500 units wide
        glyph_runs = [_arabic_codes(word) for word in words]
        total = sum(len(run) for run in glyph_runs) + len(words) - 1
        x = right - total * advance
        codes: list[int] = []
        for run in reversed(glyph_runs):  # leftmost word first
            codes.extend(reversed(run))
            codes.append(0x20)
        data = "".join(f"{code:02x}" for code in codes[:-1])
        self._ops.append(f"BT /F3 {size:g} Tf {x:g} {y:g} Td <{data}> Tj ET")

    def cjk(self, x: float, y: float, text: str, *, size: float = 12) -> None:
        """Chinese or Japanese text (``CJK_CHARACTERS``) as one run, no spaces."""
        data = "".join(f"{_CJK_FIRST_CODE + CJK_CHARACTERS.index(ch):02x}" for ch in text)
        self._ops.append(f"BT /F3 {size:g} Tf {x:g} {y:g} Td <{data}> Tj ET")

    def save(self, path: Path) -> Path:
        """Write the PDF to ``path``."""
        path.write_bytes(self.build())
        return path

    def build(self) -> bytes:
        """The PDF's bytes."""
        content = zlib.compress("\n".join(self._ops).encode("latin-1"))
        to_unicode = zlib.compress(_arabic_cmap().encode("ascii"))
        objects = {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: (
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R "
                b"/Resources << /Font << /F1 5 0 R /F2 6 0 R /F3 7 0 R >> >> >>"
                % (self.width, self.height)
            ),
            4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
            + content
            + b"\nendstream",
            5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            6: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold "
            b"/Encoding /WinAnsiEncoding >>",
            7: (
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 32 "
                b"/LastChar %d /Widths [%s] /ToUnicode 8 0 R >>"
                % (_LAST_CODE, b" ".join([b"500"] * (_LAST_CODE - 31)))
            ),
            8: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(to_unicode)
            + to_unicode
            + b"\nendstream",
        }
        out = bytearray(b"%PDF-1.4\n")
        offsets = {}
        for number, body in objects.items():
            offsets[number] = len(out)
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        for number in objects:
            out += b"%010d 00000 n \n" % offsets[number]
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
            len(objects) + 1,
            xref,
        )
        return bytes(out)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


# Helvetica advance widths (per 1000 em) of the characters the tests use; others ~556.
_WIDTHS = {" ": 278, ".": 278, ",": 278, "-": 333, "i": 222, "l": 222, "j": 222, "t": 278}
_WIDTHS |= {"f": 278, "r": 333, "m": 833, "w": 722, "I": 278, "M": 833, "W": 944}


def helvetica_width(text: str, size: float) -> float:
    """The advance of ``text`` in Helvetica at ``size`` points."""
    return sum(_WIDTHS.get(ch, 556) for ch in text) * size / 1000


def _arabic_codes(word: str) -> list[int]:
    codes = []
    position = 0
    while position < len(word):
        if word.startswith(LAM_ALEF, position):
            codes.append(_LIGATURE_CODE)
            position += 2
            continue
        codes.append(0x41 + ARABIC_LETTERS.index(word[position]))
        position += 1
    return codes


def _arabic_cmap() -> str:
    entries = [f"<{0x41 + i:02x}> <{ord(ch):04x}>" for i, ch in enumerate(ARABIC_LETTERS)]
    entries.append(f"<{_LIGATURE_CODE:02x}> <{ord(LAM_ALEF[0]):04x}{ord(LAM_ALEF[1]):04x}>")
    entries += [
        f"<{_CJK_FIRST_CODE + i:02x}> <{ord(ch):04x}>" for i, ch in enumerate(CJK_CHARACTERS)
    ]
    entries.append("<20> <0020>")
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CMapName /Arabic def /CMapType 2 def",
            "1 begincodespacerange <00> <ff> endcodespacerange",
            f"{len(entries)} beginbfchar",
            *entries,
            "endbfchar endcmap CMapName currentdict /CMap defineresource pop end end",
        ]
    )

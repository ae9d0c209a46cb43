"""Write the binary documents (.pdf, .docx, .pptx) of the classify evaluation set.

    .venv/bin/python bench/classify_eval/generate.py

The plain-text documents beside them are hand-written files; these few exist so the set
also goes through the PDF, Word and PowerPoint converters. Their texts are in ``texts/``:
a ``.txt`` for each PDF and Word document, ``slides.json`` for the decks. PDFs are
written byte by byte (no PDF writer is installed), .docx as a minimal WordprocessingML
package, .pptx with python-pptx. The output is committed; re-run only after editing the
texts.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from pptx import Presentation
from pptx.util import Inches

DOCUMENTS = Path(__file__).resolve().parent / "documents"
TEXTS = Path(__file__).resolve().parent / "texts"
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------------------- texts


def text(name: str) -> str:
    """A document's text, ``texts/<name>.txt``."""
    return (TEXTS / f"{name}.txt").read_text(encoding="utf-8")


def slides(name: str) -> list[tuple[str, object]]:
    """A deck of ``texts/slides.json``: (title, subtitle), then (title, bullets) a slide."""
    deck = json.loads((TEXTS / "slides.json").read_text(encoding="utf-8"))[name]
    return [(title, content) for title, content in deck]


# ------------------------------------------------------------------------ writers


def make_pdf(text: str) -> bytes:
    """A plain PDF of ``text`` (Helvetica 10pt, 62 lines a page, long lines wrapped)."""
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(textwrap.wrap(line, 100) or [""])
    pages = [lines[i : i + 62] for i in range(0, len(lines), 62)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects[2] = f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode()
    for i, page in enumerate(pages):
        commands = ["BT", "/F1 10 Tf", "12 TL", "50 750 Td"]
        for line in page:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            commands.append(f"({escaped}) Tj T*")
        commands.append("ET")
        stream = "\n".join(commands).encode("latin-1")
        objects[4 + 2 * i] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects[5 + 2 * i] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
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
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


def make_docx(text: str) -> bytes:
    """A minimal .docx: ``# `` lines become bold headings, ``|`` rows become tables."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush_table() -> None:
        if table:
            rows = "".join(
                "<w:tr>"
                + "".join(f"<w:tc><w:p>{_run(cell)}</w:p></w:tc>" for cell in row)
                + "</w:tr>"
                for row in table
            )
            body.append(f"<w:tbl>{rows}</w:tbl>")
            table.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= {"-", ":"} for cell in cells):
                table.append(cells)
            continue
        flush_table()
        if line.startswith("# "):
            body.append(f"<w:p>{_run(line[2:], bold=True)}</w:p>")
        else:
            body.append(f"<w:p>{_run(line)}</w:p>")
    flush_table()
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{ns}"><w:body>{"".join(body)}</w:body></w:document>'
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in (
            ("[Content_Types].xml", content_types),
            ("_rels/.rels", rels),
            ("word/document.xml", document),
        ):
            package.writestr(zipfile.ZipInfo(name, _ZIP_TIME), data)
    return buffer.getvalue()


def _run(text: str, *, bold: bool = False) -> str:
    # Inline **bold** markers become bold runs, as a word processor would store them.
    runs = []
    for index, part in enumerate(text.split("**")):
        if part:
            properties = "<w:rPr><w:b/></w:rPr>" if bold or index % 2 else ""
            runs.append(f'<w:r>{properties}<w:t xml:space="preserve">{escape(part)}</w:t></w:r>')
    return "".join(runs)


def make_pptx(slides: Sequence[tuple[str, object]]) -> bytes:
    """A deck with a title slide, then one title-and-bullets slide per entry."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    for index, (title, content) in enumerate(slides):
        if index == 0:
            slide = deck.slides.add_slide(deck.slide_layouts[0])
            slide.shapes.title.text = title
            slide.placeholders[1].text = str(content)
            continue
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        frame = slide.placeholders[1].text_frame
        bullets = list(content) if isinstance(content, list) else [str(content)]
        frame.text = bullets[0]
        for bullet in bullets[1:]:
            frame.add_paragraph().text = bullet
    buffer = io.BytesIO()
    deck.save(buffer)
    return _fixed_times(buffer.getvalue())


def _fixed_times(package: bytes) -> bytes:
    """The zip package again with fixed entry times, so re-running changes no bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(package)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            target.writestr(zipfile.ZipInfo(entry.filename, _ZIP_TIME), source.read(entry))
    return out.getvalue()


def main() -> None:
    """Write every binary document of the set."""
    outputs: dict[str, bytes] = {
        "invoice/greenhill-wholesale-produce.pdf": make_pdf(text("wholesale-invoice")),
        "invoice/pemberton-shaw-fee-note.docx": make_docx(text("legal-fees-invoice")),
        "contract/fjordline-employment-agreement.docx": make_docx(text("employment-agreement")),
        "contract/bakery-equipment-loan.pdf": make_pdf(text("equipment-loan-agreement")),
        "resume/marketing-manager.docx": make_docx(text("marketing-resume")),
        "resume/staff-accountant.pdf": make_pdf(text("accountant-resume")),
        "scientific-paper/perovskite-halide-segregation.pdf": make_pdf(text("perovskite-paper")),
        "financial-report/valmont-half-year-report.pdf": make_pdf(text("interim-report")),
        "financial-report/coastal-bancorp-q1-results.docx": make_docx(text("bank-quarterly")),
        "form/rental-application.pdf": make_pdf(text("rental-application")),
        "form/dental-patient-registration.docx": make_docx(text("patient-intake")),
        "slide-deck/product-roadmap-2025.pptx": make_pptx(slides("product-roadmap")),
        "slide-deck/new-hire-orientation.pptx": make_pptx(slides("onboarding")),
        "slide-deck/emea-q3-business-review.pptx": make_pptx(slides("qbr")),
        "slide-deck/federated-learning-talk.pptx": make_pptx(slides("conference-talk")),
        "slide-deck/routewise-sales-pitch.pptx": make_pptx(slides("sales-pitch")),
    }
    for relative, data in outputs.items():
        target = DOCUMENTS / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"wrote {target.relative_to(DOCUMENTS.parent)} ({len(data):,} bytes)")


if __name__ == "__main__":
    main()

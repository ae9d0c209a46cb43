"""The PDF layout engine on small PDFs drawn by the tests (tests/engines/layout_pdf.py).

Each test pins one behaviour a user sees in a parse job's markdown: words apart where
the PDF has no space character, headings, a table's cells, reading order across
columns, right-to-left text in logical order, a scanned table's cells (OCR words and the
rules found in the image); and, through ``parse_document``, that ``fast_mode`` skips the
layout and the result records the engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from docbatch.engines import layout, ocr
from docbatch.engines.base import EngineRequest
from docbatch.engines.parse import parse_document
from tests.engines.layout_pdf import LAM_ALEF, LayoutPdf, helvetica_width

BODY = [
    "The",
    "engine",
    "reads",
    "every",
    "page",
    "of",
    "the",
    "document",
    "and",
    "keeps",
    "the",
    "words",
    "of",
    "each",
    "line",
    "in",
    "the",
    "order",
    "in",
    "which",
    "a",
    "reader",
    "meets",
    "them",
    "on",
    "the",
    "page.",
]


def markdown_of(pdf: LayoutPdf, tmp_path: Path) -> str:
    path = pdf.save(tmp_path / "drawn.pdf")
    document = pdfium.PdfDocument(path)
    try:
        return layout.layout_pdf_page(document, 0).markdown
    finally:
        document.close()


def paragraph(pdf: LayoutPdf, x: float, y: float, words: list[str], width: float = 240) -> float:
    """Words set as left-aligned lines of at most ``width`` points; the y below them."""
    line: list[str] = []
    for word in words:
        if len(" ".join([*line, word])) * 5.2 > width and line:
            pdf.text(x, y, " ".join(line))
            y -= 12
            line = []
        line.append(word)
    if line:
        pdf.text(x, y, " ".join(line))
        y -= 12
    return y


def test_words_positioned_without_spaces_come_out_apart(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.words(72, 700, ["The", "plot", "of", "inhibitor", "concentration"], gap=2.8)
    # Glyphs of one word set a hair apart (tracking, kerning) stay one word.
    x = 72.0
    for letter in "Overall":
        pdf.text(x, 680, letter)
        x += helvetica_width(letter, 10) + 0.4
    assert markdown_of(pdf, tmp_path).split("\n\n") == [
        "The plot of inhibitor concentration",
        "Overall",
    ]


def test_a_larger_line_and_a_bold_numbered_line_are_headings(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.text(72, 720, "Annual Report on Water Quality", size=18)
    y = paragraph(pdf, 72, 690, BODY)
    pdf.text(72, y - 14, "2.1 Sampling Methods", bold=True)
    paragraph(pdf, 72, y - 34, BODY)
    blocks = markdown_of(pdf, tmp_path).split("\n\n")
    assert blocks[0] == "# Annual Report on Water Quality"
    assert blocks[1] == " ".join(BODY)  # wrapped lines are one paragraph
    assert blocks[2] == "## 2.1 Sampling Methods"
    assert not blocks[3].startswith("#")


def test_running_text_beside_a_larger_table_is_not_a_heading(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    # A table in 9 pt with more characters than the 10.5 pt prose below it.
    top = 720.0
    pdf.rule(72, top, 500, top)
    for row in range(12):
        for column in range(5):
            pdf.text(80 + column * 85, top - 12 - row * 12, f"value {row}.{column}", size=9)
    pdf.rule(72, top - 12 * 12 - 4, 500, top - 12 * 12 - 4)
    pdf.text(72, 540, "Samples were kept cold. They were measured twice.", size=10.5)
    pdf.text(72, 526, "The second reading is the one reported.", size=10.5)
    markdown = markdown_of(pdf, tmp_path)
    assert "#" not in markdown
    assert markdown.endswith(
        "Samples were kept cold. They were measured twice. The second reading is the one reported."
    )


def test_bold_words_inside_a_sentence_are_not_a_heading(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.text(72, 700, "Note.", bold=True)
    pdf.text(104, 700, "Samples were kept cold until they were measured.")
    assert not markdown_of(pdf, tmp_path).startswith("#")


def test_a_ruled_table_comes_out_as_a_pipe_table_with_its_cells(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    y = paragraph(pdf, 72, 720, BODY)
    columns = (80, 200, 280, 360)
    rows = [
        ["Class", "Precision", "Recall", "Support"],
        ["Grinding", "0.89", "0.87", "500"],
        ["No grinding", "0.87", "0.89", "512"],
        ["Overall", "0.88", "0.88", "1012"],
    ]
    top = y - 20
    pdf.rule(72, top, 420, top)
    for number, row in enumerate(rows):
        baseline = top - 14 - number * 16
        for x, cell in zip(columns, row, strict=True):
            pdf.text(x, baseline, cell, bold=number == 0)
        if number == 0:
            pdf.rule(72, baseline - 5, 420, baseline - 5)
    bottom = top - 14 - len(rows) * 16 + 8
    pdf.rule(72, bottom, 420, bottom)
    paragraph(pdf, 72, bottom - 24, BODY)
    markdown = markdown_of(pdf, tmp_path)
    blocks = markdown.split("\n\n")
    assert blocks[0] == " ".join(BODY)
    assert blocks[1].splitlines() == [
        "| Class | Precision | Recall | Support |",
        "|---|---|---|---|",
        "| Grinding | 0.89 | 0.87 | 500 |",
        "| No grinding | 0.87 | 0.89 | 512 |",
        "| Overall | 0.88 | 0.88 | 1012 |",
    ]
    assert blocks[2] == " ".join(BODY)


def test_a_grid_cell_of_two_lines_stays_one_cell(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    left, middle, right = 72.0, 180.0, 320.0
    lines_y = (700, 680, 650, 620)
    for y in lines_y:
        pdf.rule(left, y, right, y)
    for x in (left, middle, right):
        pdf.rule(x, lines_y[0], x, lines_y[-1])
    pdf.text(80, 686, "Method")
    pdf.text(188, 686, "Inference time")
    pdf.text(80, 660, "OTSL")
    pdf.text(188, 666, "2.73")
    pdf.text(188, 654, "5.39")
    pdf.text(80, 630, "HTML")
    pdf.text(188, 630, "3.77")
    rows = markdown_of(pdf, tmp_path).splitlines()
    assert rows == [
        "| Method | Inference time |",
        "|---|---|",
        "| OTSL | 2.73 5.39 |",
        "| HTML | 3.77 |",
    ]


def test_two_columns_are_read_one_after_the_other(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.text(72, 740, "Reading Order Across Columns", size=16)
    left = [f"left{n}" for n in range(40)]
    right = [f"right{n}" for n in range(40)]
    paragraph(pdf, 72, 700, left, width=220)
    paragraph(pdf, 320, 700, right, width=220)
    blocks = markdown_of(pdf, tmp_path).split("\n\n")
    assert blocks == ["# Reading Order Across Columns", " ".join(left), " ".join(right)]


def test_right_to_left_lines_come_out_in_logical_order(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    first = ["مرحبا", "بالعالم", "كتاب"]
    second = ["السلام", "عليكم", "مع" + LAM_ALEF]  # سلام and معلا: lam-alef ligatures
    # Drawn as displayed: glyphs left to right, the first word rightmost.
    pdf.arabic(540, 700, first)
    pdf.arabic(540, 684, second)
    assert markdown_of(pdf, tmp_path) == " ".join(first + second)


def test_chinese_and_japanese_lines_join_without_a_space(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.cjk(72, 700, "文書の品質を")
    pdf.cjk(72, 686, "測る日本語処理")
    assert markdown_of(pdf, tmp_path) == "文書の品質を測る日本語処理"


def test_a_page_without_text_has_empty_markdown(tmp_path: Path) -> None:
    pdf = LayoutPdf()
    pdf.rule(72, 700, 400, 700)
    assert markdown_of(pdf, tmp_path) == ""


def parse(path: Path, **config: object) -> dict[str, object]:
    result = parse_document(
        EngineRequest(
            path=str(path),
            file_name=path.name,
            job_type="parse",
            config={"disable_ocr": True, **config},
        )
    )
    return {"document": json.loads(result.content), "metadata": result.metadata}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    pdf = LayoutPdf()
    pdf.text(72, 720, "Quarterly Summary", size=18)
    paragraph(pdf, 72, 690, BODY)
    return pdf.save(tmp_path / "report.pdf")


def test_parse_job_markdown_has_the_heading_and_text_has_none(report: Path) -> None:
    parsed = parse(report)
    document = parsed["document"]
    assert isinstance(document, dict)
    assert document["markdown"].startswith("# Quarterly Summary\n\n")
    assert document["text"].startswith("Quarterly Summary\n")
    metadata = parsed["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["engine"] == "docbatch"
    assert metadata["engine_version"].startswith(f"layout-{layout.LAYOUT_VERSION}+markitdown-")


def test_fast_mode_gives_the_plain_text_layer(report: Path) -> None:
    parsed = parse(report, fast_mode=True)
    document = parsed["document"]
    assert isinstance(document, dict)
    assert document["markdown"].startswith("Quarterly Summary\n")
    assert "#" not in document["markdown"]
    metadata = parsed["metadata"]
    assert isinstance(metadata, dict)
    assert "fast_mode" in metadata["applied"]


# ------------------------------------------------------------------ scanned pages

needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None, reason="tesseract not installed")


def ruled_table_pdf() -> LayoutPdf:
    """A grid table: a rule above and below every row, between every column."""
    pdf = LayoutPdf()
    rows = [
        ["Processing", "Total chunks", "Mean"],
        ["Base 128", "64,058", "800.73"],
        ["Base 256", "32,051", "400.64"],
        ["Chipper", "20,843", "260.57"],
    ]
    columns = (72.0, 200.0, 330.0, 440.0)
    top = 700.0
    for number, row in enumerate(rows):
        for x, cell in zip(columns, row, strict=False):
            pdf.text(x + 8, top - 16 - number * 22, cell, size=12)
    bottom = top - 22 * len(rows) - 2
    for number in range(len(rows) + 1):
        y = top - 22 * number if number < len(rows) else bottom
        pdf.rule(columns[0], y, columns[-1], y, width=1)
    for x in columns:
        pdf.rule(x, top, x, bottom, width=1)
    return pdf


@needs_tesseract
def test_a_scanned_ruled_table_comes_out_with_its_cells(tmp_path: Path) -> None:
    document = pdfium.PdfDocument(ruled_table_pdf().save(tmp_path / "table.pdf"))
    try:
        image = document[0].render(scale=300 / 72).to_pil().convert("L")
    finally:
        document.close()
    scan = tmp_path / "scan.png"
    image.save(scan, dpi=(300, 300))
    result = parse_document(
        EngineRequest(path=str(scan), file_name=scan.name, job_type="parse", config={})
    )
    markdown = json.loads(result.content)["markdown"]
    assert markdown.splitlines() == [
        "| Processing | Total chunks | Mean |",
        "|---|---|---|",
        "| Base 128 | 64,058 | 800.73 |",
        "| Base 256 | 32,051 | 400.64 |",
        "| Chipper | 20,843 | 260.57 |",
    ]
    assert json.loads(result.content)["ocr_pages"] == [1]


def test_a_page_the_layout_cannot_arrange_keeps_its_plain_text(
    report: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(page: object, textpage: object, **options: object) -> layout.PageLayout:
        raise ZeroDivisionError("a page the rules never met")

    monkeypatch.setattr(layout, "layout_page", broken)
    parsed = parse(report)
    document = parsed["document"]
    assert isinstance(document, dict)
    assert document["markdown"].startswith("Quarterly Summary\n")
    assert "failed_pages" not in document
    metadata = parsed["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["pages_without_layout"] == [
        {"page": 1, "error": "ZeroDivisionError: a page the rules never met"}
    ]


def test_fast_mode_is_honoured_by_other_formats_whose_one_conversion_is_fast(
    tmp_path: Path,
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("A short note.\n")
    metadata = parse(note, fast_mode=True)["metadata"]
    assert isinstance(metadata, dict)
    assert "fast_mode" in metadata["applied"]

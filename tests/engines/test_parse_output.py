"""The parse engine's JSON output and the parameters that shape it, one test per behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from docbatch.engines import layout
from docbatch.engines.base import EngineRequest, EngineResult, read_progress
from docbatch.engines.pages import markdown_to_text, remove_running_lines, tables_to_html
from docbatch.engines.parse import count_pages, parse_document
from docbatch.errors import DocumentError
from tests.engines.pdf_factory import make_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"


def parse(path: Path, **config: Any) -> EngineResult:
    """Run the parse engine on ``path`` with ``config`` as the parse parameters."""
    return parse_document(
        EngineRequest(path=str(path), file_name=path.name, job_type="parse", config=config)
    )


def output(path: Path, **config: Any) -> dict[str, Any]:
    """The JSON document the parse engine writes for ``path``."""
    document = json.loads(parse(path, **config).content)
    assert isinstance(document, dict)
    return document


def pdf(tmp_path: Path, pages: list[str], **options: Any) -> Path:
    """A generated PDF with one page per string."""
    path = tmp_path / "generated.pdf"
    path.write_bytes(make_pdf(pages, **options))
    return path


# ------------------------------------------------------------------ structure


def test_output_is_json_with_markdown_text_and_pages(tmp_path: Path) -> None:
    result = parse(pdf(tmp_path, ["Alpha page", "Bravo page"]))
    assert (result.content_type, result.extension) == ("application/json", "json")
    document = json.loads(result.content)
    assert document == {
        "markdown": "Alpha page\n\nBravo page",
        "text": "Alpha page\n\nBravo page",
        "pages": [
            {"page": 1, "text": "Alpha page", "markdown": "Alpha page"},
            {"page": 2, "text": "Bravo page", "markdown": "Bravo page"},
        ],
        "page_count": 2,
        "ocr_pages": [],
    }


def test_text_is_markdown_without_formatting() -> None:
    document = output(CORPUS / "fake-doc-emphasized-text.docx")
    assert "***bold-italic***" in document["markdown"]
    assert "I am a bold italic bold-italic text." in document["text"]
    assert "A bold italic bold-italic example\tA Link example" in document["text"]
    assert "*" not in document["text"]
    assert "http://github.com/" not in document["text"]


def test_text_of_html_has_no_heading_marks_and_tab_separated_tables() -> None:
    text = output(CORPUS / "fake-html.html")["text"]
    assert text.startswith("My First Heading\n\nMy Second Heading\n")
    assert "#" not in text
    assert "Row 1, Cell 1\tRow 1, Cell 2" in text
    assert "---" not in text


def test_document_without_pages_is_one_page() -> None:
    document = output(CORPUS / "fake_table.docx")
    assert document["page_count"] == 1
    [page] = document["pages"]
    assert page["page"] == 1
    assert page["markdown"] == document["markdown"]
    assert page["text"] == document["text"]


def test_deck_has_one_page_per_slide() -> None:
    document = output(CORPUS / "sample-presentation.pptx")
    assert document["page_count"] == 4
    assert [page["page"] for page in document["pages"]] == [1, 2, 3, 4]
    assert document["pages"][1]["markdown"].startswith("<!-- Slide number: 2 -->")
    assert document["pages"][1]["text"].startswith("This is the first content slide")


def test_target_pages_select_slides() -> None:
    result = parse(CORPUS / "sample-presentation.pptx", target_pages="1-2")
    document = json.loads(result.content)
    assert [page["page"] for page in document["pages"]] == [2, 3]
    assert "Slide number: 1 " not in document["markdown"]
    assert result.metadata["applied"] == ["target_pages"]


def test_workbook_has_one_page_per_sheet() -> None:
    document = output(CORPUS / "stanley-cups.xlsx", page_separator="\n\n=== {pageNumber} ===\n\n")
    assert [page["markdown"].split("\n")[0] for page in document["pages"]] == [
        "## Stanley Cups",
        "## Stanley Cups Since 67",
    ]
    assert "\n\n=== 2 ===\n\n## Stanley Cups Since 67" in document["markdown"]


def test_unicode_is_kept_as_is_in_the_json() -> None:
    result = parse(CORPUS / "umlauts-non-utf8.md")
    assert "äöüß" in result.content  # not \\u escapes: the JSON is UTF-8 text


# ------------------------------------------------------------------ parameters


def test_output_tables_as_html_renders_tables_as_html() -> None:
    result = parse(CORPUS / "fake-html.html", output_tables_as_html=True)
    document = json.loads(result.content)
    assert "<table>" in document["markdown"]
    assert "<thead><tr><th>Column 1</th><th>Column 2</th></tr></thead>" in document["markdown"]
    assert "<tr><td>Row 1, Cell 1</td><td>Row 1, Cell 2</td></tr>" in document["markdown"]
    assert "| --- |" not in document["markdown"]
    assert "Row 1, Cell 1\tRow 1, Cell 2" in document["text"]  # text stays plain
    assert result.metadata["applied"] == ["output_tables_as_html"]


def test_hide_headers_drops_the_line_repeated_at_the_top(tmp_path: Path) -> None:
    pages = [
        f"ACME Corp annual report\n\nBody of section {n}\n\nPage {n} of 4" for n in range(1, 5)
    ]
    result = parse(pdf(tmp_path, pages), hide_headers=True)
    document = json.loads(result.content)
    assert "ACME" not in document["markdown"]
    assert document["pages"][2]["markdown"] == "Body of section 3\n\nPage 3 of 4"
    assert result.metadata["headers_removed"] == 4
    assert "hide_headers" in result.metadata["applied"]


def test_hide_footers_drops_page_numbers_that_differ_only_in_digits(tmp_path: Path) -> None:
    pages = [
        f"ACME Corp annual report\n\nBody of section {n}\n\nPage {n} of 4" for n in range(1, 5)
    ]
    result = parse(pdf(tmp_path, pages), hide_footers=True)
    document = json.loads(result.content)
    assert [page["markdown"] for page in document["pages"]] == [
        f"ACME Corp annual report\n\nBody of section {n}" for n in range(1, 5)
    ]
    assert result.metadata["footers_removed"] == 4


def test_lines_on_too_few_pages_are_not_headers(tmp_path: Path) -> None:
    pages = [
        "Draft notice\nIntroduction text",
        "Draft notice\nMethods text",
        "Results text",
        "Discussion text",
        "Conclusion text",
    ]
    result = parse(pdf(tmp_path, pages), hide_headers=True)
    assert "Draft notice" in json.loads(result.content)["markdown"]  # on 2 of 5 pages only
    assert result.metadata["headers_removed"] == 0


def test_skip_diagonal_text_drops_a_watermark(tmp_path: Path) -> None:
    path = pdf(tmp_path, ["Quarterly figures", "Annual outlook"], watermark="CONFIDENTIAL")
    assert "CONFIDENTIAL" in output(path)["markdown"]
    result = parse(path, skip_diagonal_text=True)
    document = json.loads(result.content)
    assert document["markdown"] == "Quarterly figures\n\nAnnual outlook"
    assert result.metadata["diagonal_characters_removed"] == 2 * len("CONFIDENTIAL")
    assert result.metadata["applied"] == ["skip_diagonal_text"]


def test_skip_diagonal_text_leaves_straight_text_alone() -> None:
    plain = output(CORPUS / "reliance.pdf")
    skipped = parse(CORPUS / "reliance.pdf", skip_diagonal_text=True)
    assert json.loads(skipped.content) == plain
    assert skipped.metadata["diagonal_characters_removed"] == 0


def test_skip_diagonal_text_is_not_applied_to_other_formats() -> None:
    result = parse(CORPUS / "fake_table.docx", skip_diagonal_text=True)
    assert result.metadata["not_applied"] == ["skip_diagonal_text"]


@pytest.fixture
def unreadable_pages(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the layout engine fail on the given pages, as on a page it cannot read.

    PDFium reads even the factory's damaged font, so the failure is injected: these
    tests are about what happens to a failed page, not about what fails one.
    """

    def install(indices: set[int]) -> None:
        real = layout.layout_pdf_page

        def failing(document: Any, index: int, **options: Any) -> layout.PageLayout:
            if index in indices:
                raise DocumentError("corrupted file: could not read the .pdf page (damaged font)")
            return real(document, index, **options)

        monkeypatch.setattr(layout, "layout_pdf_page", failing)

    return install


def test_failed_page_fails_the_document_by_default(tmp_path: Path, unreadable_pages: Any) -> None:
    unreadable_pages({1})
    path = pdf(tmp_path, ["First page", "Second page", "Third page"], broken_font_pages={1})
    with pytest.raises(DocumentError) as failure:
        parse(path)
    message = str(failure.value)
    assert message.startswith("page 2 could not be parsed: corrupted file: ")
    assert len(message) <= 300


def test_failed_page_within_tolerance_is_replaced_by_its_raw_text(
    tmp_path: Path, unreadable_pages: Any
) -> None:
    unreadable_pages({1})
    path = pdf(tmp_path, ["First page", "Second page", "Third page"], broken_font_pages={1})
    result = parse(path, page_error_tolerance=0.5)
    document = json.loads(result.content)
    # PDFium still reads the page's Helvetica line (and two glyphs of the damaged font).
    assert document["pages"][1]["markdown"].startswith("Second page")
    assert document["pages"][0]["markdown"] == "First page"
    assert [failure["page"] for failure in document["failed_pages"]] == [2]
    assert document["failed_pages"][0]["error"].startswith("corrupted file: ")
    assert result.metadata["pages_failed"] == 1
    assert result.metadata["applied"] == ["page_error_tolerance"]


def test_failed_page_can_be_replaced_by_a_blank_page(tmp_path: Path, unreadable_pages: Any) -> None:
    unreadable_pages({1})
    path = pdf(tmp_path, ["First page", "Second page", "Third page"], broken_font_pages={1})
    document = output(path, page_error_tolerance=0.5, replace_failed_page_mode="blank_page")
    assert document["pages"][1]["markdown"] == ""
    assert document["markdown"] == "First page\n\nThird page"


def test_failed_page_can_be_replaced_by_its_error_message(
    tmp_path: Path, unreadable_pages: Any
) -> None:
    unreadable_pages({1})
    path = pdf(tmp_path, ["First page", "Second page", "Third page"], broken_font_pages={1})
    result = parse(
        path,
        page_error_tolerance=0.5,
        replace_failed_page_mode="error_message",
        replace_failed_page_with_error_message_prefix="<<page {pageNumber} failed: ",
        replace_failed_page_with_error_message_suffix=">>",
    )
    page = json.loads(result.content)["pages"][1]["markdown"]
    assert page.startswith("<<page 2 failed: corrupted file: ")
    assert page.endswith(">>")
    assert result.metadata["applied"] == [
        "page_error_tolerance",
        "replace_failed_page_mode",
        "replace_failed_page_with_error_message_prefix",
        "replace_failed_page_with_error_message_suffix",
    ]


def test_more_failed_pages_than_tolerated_fail_the_document(
    tmp_path: Path, unreadable_pages: Any
) -> None:
    unreadable_pages({1, 2})
    path = pdf(tmp_path, ["One", "Two", "Three", "Four"], broken_font_pages={1, 2})
    with pytest.raises(DocumentError) as failure:
        parse(path, page_error_tolerance=0.25)
    assert str(failure.value).startswith(
        "too many pages failed (2 of 4, page_error_tolerance 0.25); page 3: corrupted file: "
    )


def test_error_message_prefix_is_not_applied_without_its_mode(tmp_path: Path) -> None:
    result = parse(
        pdf(tmp_path, ["Only page"]), replace_failed_page_with_error_message_prefix="Oops: "
    )
    assert result.metadata["not_applied"] == ["replace_failed_page_with_error_message_prefix"]


def test_one_page_document_that_fails_keeps_its_own_message(
    tmp_path: Path, unreadable_pages: Any
) -> None:
    unreadable_pages({0})
    with pytest.raises(DocumentError, match=r"^corrupted file: could not read the \.pdf"):
        parse(pdf(tmp_path, ["Lonely page"], broken_font_pages={0}))


def test_invalid_tolerance_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"^invalid page_error_tolerance 2"):
        parse(pdf(tmp_path, ["Page"]), page_error_tolerance=2)


def test_target_pages_outside_the_spec_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"^invalid target_pages '2-1'"):
        parse(pdf(tmp_path, ["Page"]), target_pages="2-1")


def test_progress_is_reported_after_every_page(tmp_path: Path) -> None:
    progress_file = tmp_path / "progress.json"
    parse_document(
        EngineRequest(
            path=str(pdf(tmp_path, ["One", "Two", "Three"])),
            file_name="three.pdf",
            job_type="parse",
            config={"target_pages": "0,2"},
            progress_file=str(progress_file),
        )
    )
    assert read_progress(str(progress_file)) == {"done": 2, "total": 2}


def test_applied_and_not_applied_partition_the_output_parameters(tmp_path: Path) -> None:
    result = parse(
        pdf(tmp_path, ["Alpha", "Bravo"]),
        target_pages="0-1",
        page_prefix="[{pageNumber}]",
        languages=["en"],
        hide_headers=True,
        premium_mode=True,
        webhook_url="https://example.com/hook",
    )
    assert result.metadata["applied"] == [
        "hide_headers",
        "languages",
        "page_prefix",
        "target_pages",
    ]
    assert result.metadata["not_applied"] == ["premium_mode"]


# ------------------------------------------------------------------ count_pages


def test_count_pages_reads_the_page_tree_only() -> None:
    assert count_pages(CORPUS / "reliance.pdf", "reliance.pdf") == 3
    assert count_pages(CORPUS / "reliance.pdf", "reliance.pdf", config={"max_pages": 2}) == 2
    assert count_pages(CORPUS / "reliance.pdf", "reliance.pdf", config={"target_pages": "2"}) == 1


def test_count_pages_sniffs_a_pdf_stored_without_a_name(tmp_path: Path) -> None:
    blob = tmp_path / "blob-0001"
    blob.write_bytes(make_pdf(["One", "Two"]))
    assert count_pages(blob, None) == 2


def test_count_pages_is_none_for_formats_without_pages_and_broken_files(tmp_path: Path) -> None:
    assert count_pages(CORPUS / "fake_table.docx", "fake_table.docx") is None
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 nothing else")
    assert count_pages(broken, broken.name) is None
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["Secret"], user_password="pw"))
    assert count_pages(locked, locked.name) is None
    assert count_pages(tmp_path / "missing.pdf", "missing.pdf") is None


def test_count_pages_counts_an_image_as_one_page() -> None:
    assert count_pages(CORPUS / "example.jpg", "example.jpg") == 1


# ------------------------------------------------------------------ page helpers


def test_markdown_to_text_keeps_asterisks_of_plain_sources() -> None:
    source = "Total *net* 5 * 3\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert markdown_to_text(source, plain_source=True) == "Total *net* 5 * 3\na\tb\n1\t2"
    assert markdown_to_text(source) == "Total net 5 * 3\na\tb\n1\t2"


def test_markdown_to_text_strips_links_code_quotes_and_escapes() -> None:
    source = "> Quote with [a link](https://x.y/z) and `code`\n\n```\n# kept as is\n```\n\\*star\\*"
    assert markdown_to_text(source) == "Quote with a link and code\n\n# kept as is\n*star*"


def test_tables_to_html_escapes_cells_and_keeps_other_lines() -> None:
    source = "Intro\n| A | B \\| C |\n| --- | --- |\n| <x> | & |\nOutro"
    assert tables_to_html(source) == (
        "Intro\n<table>\n<thead><tr><th>A</th><th>B | C</th></tr></thead>\n<tbody>\n"
        "<tr><td>&lt;x&gt;</td><td>&amp;</td></tr>\n</tbody>\n</table>\nOutro"
    )


def test_running_lines_never_drop_table_rows() -> None:
    pages = [f"| Name | Value |\n| --- | --- |\n| row {n} | {n} |" for n in range(3)]
    assert remove_running_lines(pages, headers=True, footers=True).pages == pages


def test_a_page_of_mostly_unmapped_glyphs_is_recognised() -> None:
    assert layout.PageLayout("", unmapped=5, characters=6).mostly_unmapped
    assert layout.PageLayout("", unmapped=3, characters=6).mostly_unmapped
    assert not layout.PageLayout("Invoice total", unmapped=1, characters=13).mostly_unmapped
    assert not layout.PageLayout("Plain text", characters=9).mostly_unmapped


def test_slide_markers_are_not_running_headers() -> None:
    result = parse(CORPUS / "sample-presentation.pptx", hide_headers=True)
    document = json.loads(result.content)
    assert document["markdown"].count("<!-- Slide number:") == 4
    assert result.metadata["headers_removed"] == 0


def test_ocr_languages_are_not_applied_to_office_documents() -> None:
    result = parse(CORPUS / "fake_table.docx", languages=["de"])
    assert result.metadata["not_applied"] == ["languages"]

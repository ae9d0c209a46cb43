"""The parse engine against the real corpus and against broken files made here."""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from docbatch.engines import office
from docbatch.engines.parse import (
    NO_TEXT_LAYER,
    OCR_DISABLED,
    convert_document,
)
from docbatch.errors import DocumentError, UnsupportedFormatError
from tests.engines.parsing import output, parse
from tests.engines.pdf_factory import make_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"
CORPUS_FILES = sorted(CORPUS.iterdir()) if CORPUS.is_dir() else []

# What the corpus cannot yield, and the start of the message each file must fail with.
# example.jpg is a photograph of a flower: OCR rightly finds no text in it.
EXPECTED_FAILURES = {
    "example.jpg": "no extractable text: OCR found no text in the .jpg image",
    "fake-text-all-whitespace.txt": "empty document: the file contains only whitespace",
    "empty.xlsx": "empty document: the spreadsheet has no cell values",
}
if not office.installed():
    # The legacy and OpenDocument files are read through LibreOffice.
    EXPECTED_FAILURES.update(
        dict.fromkeys(("fake.doc", "fake.odt", "fake-doc.rtf"), "LibreOffice is not installed")
    )


def markdown(path: Path, file_name: str | None = None, **config: Any) -> str:
    """The full markdown the parse engine produces for ``path``."""
    text = output(parse(path, file_name, **config))["markdown"]
    assert isinstance(text, str)
    return text


def test_corpus_has_the_fifty_documents_the_readme_describes() -> None:
    assert len(CORPUS_FILES) == 50


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_every_corpus_file_converts_or_fails_with_a_readable_message(path: Path) -> None:
    expected_failure = EXPECTED_FAILURES.get(path.name)
    if expected_failure is None:
        result = parse(path)
        document = output(result)
        assert document["markdown"].strip()
        assert document["text"].strip()
        assert result.content_type == "application/json"
        assert result.extension == "json"
        assert result.metadata["characters"] == len(document["markdown"])
        assert result.metadata["engine"] == "docbatch"
        numbers = [page["page"] for page in document["pages"]]
        assert numbers == sorted(numbers)
        assert numbers[0] >= 1
        assert numbers[-1] <= document["page_count"]
    else:
        with pytest.raises(DocumentError) as failure:
            parse(path)
        message = str(failure.value)
        assert message.startswith(expected_failure)
        assert len(message) <= 300
        assert "\n" not in message
        assert "Traceback" not in message


def test_outlook_message_is_an_unsupported_format_with_advice() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"save the message as \.eml$"):
        parse(CORPUS / "fake.doc", "message.msg")


@pytest.mark.skipif(not office.installed(), reason="LibreOffice (soffice) not installed")
def test_legacy_files_are_read_through_libreoffice() -> None:
    assert markdown(CORPUS / "fake.doc") == "Lorem ipsum dolor sit amet."
    assert "| Color | Blue | Red | Green |" in markdown(CORPUS / "fake.odt")
    rtf = parse(CORPUS / "fake-doc.rtf")
    assert "| Row 1, Cell 1 | Row 1, Cell 2 |" in output(rtf)["markdown"]
    assert "\\rtf" not in output(rtf)["markdown"]
    assert rtf.metadata["source_format"] == "rtf"


def test_scanned_pdf_has_no_extractable_text_when_ocr_is_disabled() -> None:
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "loremipsum-flat.pdf", disable_ocr=True)
    assert str(failure.value) == (
        "no extractable text: the document has no text layer (scanned PDF or image), "
        + OCR_DISABLED
    )


def test_convert_document_reads_no_scan_unless_asked_to() -> None:
    # What classify relies on: without options nothing is OCRed.
    with pytest.raises(DocumentError) as failure:
        convert_document(CORPUS / "loremipsum-flat.pdf")
    assert str(failure.value) == NO_TEXT_LAYER


def test_docx_table_becomes_a_markdown_table() -> None:
    content = markdown(CORPUS / "fake_table.docx")
    assert "| Header Col 1 | Header Col 2 |" in content
    assert "| --- | --- |" in content
    assert "| Lorem ipsum |" in content


def test_utf16_text_decodes_to_the_same_text_as_its_utf8_twin() -> None:
    utf16 = markdown(CORPUS / "fake-text-utf-16-be.txt")
    assert utf16 == markdown(CORPUS / "fake-text.txt")
    assert utf16.startswith("This is a test document to use for unit tests.")


def test_utf16_html_decodes() -> None:
    content = markdown(CORPUS / "example-steelJIS-datasheet-utf-16.html")
    assert "SteelJIS" in content
    assert "Japanese Steels and Alloys" in content
    assert "\x00" not in content


def test_latin1_markdown_keeps_its_umlauts() -> None:
    content = markdown(CORPUS / "umlauts-non-utf8.md")
    assert "können" in content
    assert "äöüß" in content


def test_email_has_a_header_block_and_its_plain_text_body() -> None:
    result = parse(CORPUS / "fake-email.eml")
    content = output(result)["markdown"]
    assert "- **Subject:** Test Email" in content
    assert "- **From:** Matthew Robinson <mrobinson@unstructured.io>" in content
    assert "- **Date:** Fri, 16 Dec 2022 17:04:16 -0500" in content
    assert "Roses are red" in content
    assert "<div" not in content
    assert result.metadata["source_format"] == "eml"


def test_email_without_a_plain_part_uses_its_html_body(tmp_path: Path) -> None:
    message = tmp_path / "html-only.eml"
    message.write_text(
        "From: Ann <ann@example.com>\nTo: Bob <bob@example.com>\nSubject: Quarterly numbers\n"
        "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        "<html><body><h1>Results</h1><p>Revenue grew <b>12%</b>.</p></body></html>\n"
    )
    content = markdown(message)
    assert "- **Subject:** Quarterly numbers" in content
    assert "# Results" in content
    assert "Revenue grew **12%**." in content
    assert "<p>" not in content


def test_malformed_deck_yields_both_text_boxes_of_its_slide() -> None:
    # The deck is "malformed" only in its date placeholder; its one slide holds exactly
    # these two strings, so the 62 characters are the whole document.
    content = markdown(CORPUS / "fake-power-point-malformed.pptx")
    assert "Problem Date Placeholder" in content
    assert "# Test Slide" in content


def test_zip_output_names_the_file_not_the_servers_path() -> None:
    content = markdown(CORPUS / "simple.zip")
    assert content.startswith("Content from the zip file `simple.zip`:")
    assert str(CORPUS) not in content


def test_stored_path_without_extension_uses_the_original_file_name(tmp_path: Path) -> None:
    blob = tmp_path / "blob-0001"
    blob.write_bytes((CORPUS / "fake_table.docx").read_bytes())
    result = parse(blob, file_name="fake_table.docx")
    assert "| Header Col 1 | Header Col 2 |" in output(result)["markdown"]
    assert result.metadata["source_format"] == "docx"


# ------------------------------------------------------------------ PDF pages


def page_texts(path: Path) -> list[str]:
    """The markdown of each page of a PDF, in order."""
    conversion = convert_document(path)
    assert conversion.pages is not None
    return [page.markdown for page in conversion.pages]


def test_pdf_pages_are_joined_by_a_blank_line_by_default() -> None:
    result = parse(CORPUS / "multi-column-2p.pdf")
    first, second = page_texts(CORPUS / "multi-column-2p.pdf")
    assert output(result)["markdown"] == f"{first}\n\n{second}"
    assert result.metadata["pages"] == 2
    assert result.metadata["pages_parsed"] == 2
    assert first.startswith("# Dense Passage Retrieval for Open-Domain Question Answering")


def test_page_separator_carries_the_number_of_the_following_page() -> None:
    result = parse(
        CORPUS / "multi-column-2p.pdf", page_separator="\n\n<!-- page {pageNumber} -->\n\n"
    )
    first, second = page_texts(CORPUS / "multi-column-2p.pdf")
    assert output(result)["markdown"] == f"{first}\n\n<!-- page 2 -->\n\n{second}"
    assert result.metadata["not_applied"] == []


def test_page_prefix_and_suffix_wrap_every_page() -> None:
    result = parse(
        CORPUS / "reliance.pdf",
        page_prefix="[page {pageNumber}]\n",
        page_suffix="\n[/{page_number}]",
    )
    pages = page_texts(CORPUS / "reliance.pdf")
    expected = "\n\n".join(f"[page {n}]\n{text}\n[/{n}]" for n, text in enumerate(pages, start=1))
    assert output(result)["markdown"] == expected
    assert result.metadata["pages"] == 3


def test_target_pages_keeps_only_the_named_zero_indexed_pages() -> None:
    result = parse(CORPUS / "reliance.pdf", target_pages="0,2", page_prefix="<{pageNumber}>")
    assert output(result)["markdown"].count("<1>") == 1
    assert "<2>" not in output(result)["markdown"]
    assert output(result)["markdown"].count("<3>") == 1
    assert result.metadata["pages_parsed"] == 2
    assert result.metadata["pages"] == 3


def test_max_pages_stops_after_the_first_pages() -> None:
    result = parse(CORPUS / "multi-column-2p.pdf", max_pages=1)
    assert output(result)["markdown"] == page_texts(CORPUS / "multi-column-2p.pdf")[0]
    assert result.metadata["pages_parsed"] == 1


def test_max_pages_applies_after_target_pages(tmp_path: Path) -> None:
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(make_pdf(["Alpha page", "Bravo page", "Charlie page"]))
    result = parse(pdf, target_pages="1-2", max_pages=1, page_separator="\n---\n")
    assert output(result)["markdown"] == "Bravo page"


def test_page_parameters_on_a_generated_pdf_give_exact_output(tmp_path: Path) -> None:
    pdf = tmp_path / "three.pdf"
    pdf.write_bytes(make_pdf(["Alpha page", "Bravo page", "Charlie page"]))
    result = parse(pdf, page_separator="\n---{pageNumber}---\n", page_prefix="({pageNumber}) ")
    assert (
        output(result)["markdown"]
        == "(1) Alpha page\n---2---\n(2) Bravo page\n---3---\n(3) Charlie page"
    )


def test_target_pages_beyond_the_document_fail_the_document() -> None:
    with pytest.raises(DocumentError, match="no page selected"):
        parse(CORPUS / "multi-column-2p.pdf", target_pages="5-6")


def test_page_parameters_are_not_applied_to_documents_without_pages() -> None:
    result = parse(CORPUS / "fake_table.docx", page_separator="\n---\n", max_pages=1)
    assert "---\n" not in output(result)["markdown"].replace("| --- |", "")
    assert result.metadata["not_applied"] == ["max_pages", "page_separator"]


def test_not_applied_lists_only_output_parameters_that_were_ignored() -> None:
    result = parse(
        CORPUS / "fake-memo.pdf",
        lang="fr",
        output_tables_as_HTML=True,
        parsing_instruction="Summarise",
        page_separator="\n",
        disable_ocr=True,
        parse_mode="parse_page_without_llm",
        skip_diagonal_text=False,
        webhook_url="https://example.com/hook",
        priority="high",
        invalidate_cache=True,
        do_not_cache=True,
        project_id="p1",
        job_timeout_in_seconds=60,
    )
    # lang only matters to OCR, which disable_ocr turned off.
    assert result.metadata["not_applied"] == ["lang", "parsing_instruction"]
    assert result.metadata["applied"] == [
        "disable_ocr",
        "output_tables_as_HTML",
        "page_separator",
        "parse_mode",
    ]


# ------------------------------------------------------------------ broken files


def test_zero_byte_file_is_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match=r"^empty file \(0 bytes\)$"):
        parse(empty)


def test_truncated_docx_is_a_corrupted_file(tmp_path: Path) -> None:
    data = (CORPUS / "fake_table.docx").read_bytes()
    broken = tmp_path / "truncated.docx"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError, match=r"^corrupted file: .*\.docx.*truncated"):
        parse(broken)


def test_docx_with_malformed_xml_is_a_corrupted_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken-xml.pptx"
    with (
        zipfile.ZipFile(CORPUS / "fake-power-point.pptx") as source,
        zipfile.ZipFile(broken, "w") as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "ppt/slides/slide1.xml":
                data = data[: len(data) // 2]
            target.writestr(info, data)
    with pytest.raises(DocumentError) as failure:
        parse(broken)
    assert str(failure.value).startswith("corrupted file: malformed XML inside the .pptx")
    assert len(str(failure.value)) <= 300


def test_plain_zip_renamed_to_docx_is_not_taken_for_an_archive(tmp_path: Path) -> None:
    renamed = tmp_path / "report.docx"
    with zipfile.ZipFile(renamed, "w") as archive:
        archive.writestr("notes.txt", "not a Word document")
    with pytest.raises(DocumentError, match=r"lacks word/document\.xml"):
        parse(renamed)


def test_text_named_pdf_is_not_a_pdf(tmp_path: Path) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_text("this is plain text, not a PDF")
    with pytest.raises(DocumentError, match=r"^corrupted file: not a PDF"):
        parse(fake)


def test_truncated_pdf_is_a_corrupted_file(tmp_path: Path) -> None:
    data = (CORPUS / "multi-column-2p.pdf").read_bytes()
    broken = tmp_path / "truncated.pdf"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError, match=r"^corrupted file: the PDF cannot be opened"):
        parse(broken)


def test_encrypted_pdf_needs_a_password(tmp_path: Path) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["Quarterly salaries"], user_password="s3cret"))
    with pytest.raises(DocumentError, match=r"^encrypted PDF: password required$"):
        parse(locked)


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    # Same encryption as above with an empty user password: viewers open it freely, so
    # must we. It also proves the factory's encryption is real (the text is decrypted).
    protected = tmp_path / "protected.pdf"
    protected.write_bytes(make_pdf(["Quarterly salaries"], user_password=""))
    assert b"Quarterly" not in protected.read_bytes()
    assert markdown(protected) == "Quarterly salaries"


def test_password_protected_office_file_is_reported_as_encrypted(tmp_path: Path) -> None:
    # Encrypted OOXML is an OLE2 container, the same container as a legacy .doc.
    disguised = tmp_path / "locked.xlsx"
    disguised.write_bytes((CORPUS / "fake.doc").read_bytes())
    with pytest.raises(DocumentError, match=r"^encrypted document: the \.xlsx file"):
        parse(disguised)


def test_conversions_print_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    truncated_xls = tmp_path / "truncated.xls"
    truncated_xls.write_bytes((CORPUS / "tests-example.xls").read_bytes()[:5000])
    for path in [truncated_xls, CORPUS / "pdf-with-ocr-text.pdf", CORPUS / "reliance.pdf"]:
        with contextlib.suppress(DocumentError):
            parse(path)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]

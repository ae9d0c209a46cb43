"""OCR of scanned PDF pages and image files with the real Tesseract installed here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

from docbatch.engines import ocr
from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.parse import OCR_DISABLED, count_pages, parse_document
from docbatch.errors import DocumentError
from tests.engines.pdf_factory import make_pdf

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"

needs_tesseract = pytest.mark.skipif(ocr.tesseract() is None, reason="tesseract not installed")


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


def text_image(lines: list[str], *, size: int = 40) -> Image.Image:
    """Black text on white in DejaVu Sans (a TrueType font with umlauts), or skip."""
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        pytest.skip("no DejaVu Sans font to render test text (fonts-dejavu-core)")
    image = Image.new("RGB", (1400, 120 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((60, 60 + 70 * row), line, font=font, fill="black")
    return image


def missing_language() -> str:
    """A reference language code whose Tesseract pack is not installed, or skip."""
    installed = ocr.tesseract()
    assert installed is not None
    for code in ("ja", "ru", "ar", "ch_sim", "hi", "th"):
        if ocr.LANGUAGE_MODELS[code] not in installed.models:
            return code
    pytest.skip("every candidate language pack is installed")


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr() -> None:
    document = output(CORPUS / "loremipsum-flat.pdf")
    words = document["text"].lower().split()
    for word in ("lorem", "ipsum", "dolor", "consectetur", "adipiscing"):
        assert word in words
    assert document["ocr_pages"] == [1]
    assert document["pages"][0]["text"] == document["text"]


@needs_tesseract
def test_scanned_table_reads_its_numbers() -> None:
    result = parse(CORPUS / "single_table.pdf")
    text = json.loads(result.content)["text"]
    assert "64,058" in text
    assert "Chipper" in text
    assert result.metadata["pages_ocr"] == 1
    assert result.metadata["ocr_languages"] == "eng"
    assert result.metadata["ocr_engine"].startswith("tesseract")


@needs_tesseract
def test_png_image_is_read_by_ocr() -> None:
    document = output(CORPUS / "table-multi-row-column-cells.png")
    assert "Dexterity" in document["text"]
    assert "Mobility" in document["text"]
    assert document["page_count"] == 1
    assert document["ocr_pages"] == [1]


@needs_tesseract
def test_photo_without_text_fails_as_having_no_text() -> None:
    # example.jpg is a photograph of a flower: there is nothing to read.
    with pytest.raises(
        DocumentError, match=r"^no extractable text: OCR found no text in the \.jpg"
    ):
        parse(CORPUS / "example.jpg")


@needs_tesseract
def test_german_text_is_read_with_the_german_language_pack(tmp_path: Path) -> None:
    image = tmp_path / "brief.png"
    text_image(["Größere Übungen für die Straße", "Äpfel, Öl und Süßigkeiten"]).save(image)
    result = parse(image, languages=["de"])
    text = json.loads(result.content)["text"]
    for word in ("Größere", "Übungen", "Straße", "Äpfel", "Süßigkeiten"):
        assert word in text
    assert result.metadata["ocr_languages"] == "deu"
    assert "languages" in result.metadata["applied"]


@needs_tesseract
def test_lang_string_takes_several_languages(tmp_path: Path) -> None:
    image = tmp_path / "note.png"
    text_image(["Grüße aus der Straße"]).save(image)
    result = parse(image, lang="de,en")
    assert result.metadata["ocr_languages"] == "deu+eng"
    assert "Straße" in json.loads(result.content)["text"]


@needs_tesseract
def test_mixed_pdf_ocrs_only_the_page_without_text(tmp_path: Path) -> None:
    mixed = with_picture_page(
        make_pdf(["Typed cover letter"]), text_image(["Scanned appendix page"]), tmp_path
    )
    document = output(mixed)
    assert document["ocr_pages"] == [2]
    assert document["pages"][0]["text"] == "Typed cover letter"
    assert "appendix" in document["pages"][1]["text"]


def test_mixed_pdf_without_ocr_keeps_its_text_pages(tmp_path: Path) -> None:
    mixed = with_picture_page(
        make_pdf(["Typed cover letter"]), text_image(["Scanned appendix page"]), tmp_path
    )
    result = parse(mixed, disable_ocr=True)
    document = json.loads(result.content)
    assert document["markdown"] == "Typed cover letter"
    assert document["pages_without_text"] == [2]
    assert result.metadata["pages_without_text"] == 1


@needs_tesseract
def test_multi_page_tiff_is_one_page_per_frame(tmp_path: Path) -> None:
    frames = [text_image([f"Frame number {word}"]) for word in ("alpha", "bravo", "charlie")]
    tiff = tmp_path / "fax.tiff"
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    assert count_pages(tiff, tiff.name) == 3
    document = output(tiff, target_pages="1-2", page_separator="\n=={pageNumber}==\n")
    assert [page["page"] for page in document["pages"]] == [2, 3]
    assert "bravo" in document["pages"][0]["text"]
    assert "charlie" in document["pages"][1]["text"]
    assert "\n==3==\n" in document["markdown"]
    assert document["page_count"] == 3


@needs_tesseract
def test_transparent_png_is_read_on_white(tmp_path: Path) -> None:
    opaque = text_image(["Transparent background label"])
    # Black text on a fully transparent background: read as black on white.
    alpha = opaque.convert("L").point(lambda value: 255 - value)
    clear = Image.new("RGBA", opaque.size, (0, 0, 0, 0))
    clear.putalpha(alpha)
    image = tmp_path / "label.png"
    clear.save(image)
    assert "Transparent" in output(image)["text"]


def test_disable_ocr_fails_a_scanned_pdf() -> None:
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "loremipsum-flat.pdf", disable_ocr=True)
    assert str(failure.value).startswith("no extractable text: the document has no text layer")
    assert str(failure.value).endswith(OCR_DISABLED)


def test_disable_ocr_fails_an_image() -> None:
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "table-multi-row-column-cells.png", disable_ocr=True)
    assert str(failure.value) == f"no extractable text: .png is an image, {OCR_DISABLED}"


@needs_tesseract
def test_missing_language_pack_fails_with_the_package_to_install() -> None:
    code = missing_language()
    model = ocr.LANGUAGE_MODELS[code]
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "loremipsum-flat.pdf", languages=[code])
    assert str(failure.value) == (
        f"OCR language pack missing for {code!r} (tesseract {model!r}): "
        f"install {ocr.package_for(model)}"
    )


@needs_tesseract
def test_missing_language_pack_does_not_matter_without_scanned_pages() -> None:
    result = parse(CORPUS / "fake-memo.pdf", languages=[missing_language()])
    assert json.loads(result.content)["ocr_pages"] == []


@needs_tesseract
def test_unknown_language_code_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match=r"^unknown OCR language 'klingon'"):
        parse(CORPUS / "loremipsum-flat.pdf", lang="klingon")


def test_missing_tesseract_fails_a_scan_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", "tesseract-not-installed-here")
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "loremipsum-flat.pdf")
    assert str(failure.value) == (
        "no extractable text: the document has no text layer (scanned PDF or image) "
        "and OCR is not available (tesseract not installed)"
    )


def test_missing_tesseract_fails_an_image_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", "tesseract-not-installed-here")
    with pytest.raises(DocumentError) as failure:
        parse(CORPUS / "table-multi-row-column-cells.png")
    assert str(failure.value) == (
        "no extractable text: .png is an image and OCR is not available (tesseract not installed)"
    )


def test_missing_tesseract_does_not_matter_for_text_pdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "TESSERACT_COMMAND", "tesseract-not-installed-here")
    assert json.loads(parse(CORPUS / "fake-memo.pdf").content)["markdown"]


def test_truncated_png_is_a_corrupted_file(tmp_path: Path) -> None:
    data = (CORPUS / "table-multi-row-column-cells.png").read_bytes()
    broken = tmp_path / "broken.png"
    broken.write_bytes(data[:2000])
    with pytest.raises(DocumentError, match=r"^corrupted file: the \.png image cannot be decoded"):
        parse(broken)


def test_text_file_named_png_is_a_corrupted_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(DocumentError, match=r"^corrupted file: the \.png file is not a readable"):
        parse(fake)


def test_reference_language_codes_map_to_tesseract_models() -> None:
    assert ocr.model_for("en") == "eng"
    assert ocr.model_for("ch_sim") == "chi_sim"
    assert ocr.model_for("ch_tra") == "chi_tra"
    assert ocr.model_for("rs_latin") == "srp_latn"
    assert ocr.model_for("ava") == "script/Cyrillic"
    assert ocr.model_for("deu") == "deu"  # Tesseract's own names pass through
    assert ocr.package_for("chi_sim") == "tesseract-ocr-chi-sim"
    assert ocr.package_for("script/Cyrillic") == "tesseract-ocr-script-cyrl"


def test_every_reference_language_has_a_tesseract_model() -> None:
    from typing import get_args

    from docbatch.models import ParsingLanguage

    assert set(get_args(ParsingLanguage)) == set(ocr.LANGUAGE_MODELS)


def with_picture_page(pdf: bytes, picture: Image.Image, tmp_path: Path) -> Path:
    """``pdf`` plus a last page that only shows ``picture``, like a scanned page."""
    import pypdfium2 as pdfium

    jpeg = tmp_path / "picture.jpg"
    picture.convert("RGB").save(jpeg, quality=95)
    document = pdfium.PdfDocument(pdf)
    page = document.new_page(612, 792)
    image = pdfium.PdfImage.new(document)
    image.load_jpeg(str(jpeg), inline=False)
    width, height = image.get_px_size()
    # 72 pt per inch at 150 DPI: the picture keeps a scan-like resolution.
    image.set_matrix(
        pdfium.PdfMatrix().scale(width * 72 / 150, height * 72 / 150).translate(36, 400)
    )
    page.insert_obj(image)
    page.gen_content()
    target = tmp_path / "mixed.pdf"
    document.save(target)
    document.close()
    return target

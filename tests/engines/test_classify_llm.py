"""The MULTIMODAL classifier against the fake LLM service, on real documents."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from docbatch.engines.base import EngineRequest
from docbatch.engines.classify_llm import (
    DEFAULT_CONFIDENCE_THRESHOLD,
    MAX_IMAGE_SIDE,
    MAX_TEXT_CHARS,
    classify_document_llm,
)
from docbatch.errors import ConfigError, DocumentError
from docbatch.llm import LLMResponseError
from tests.engines.pdf_factory import make_pdf
from tests.fake_llm import FakeLLM

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"
MEMO = CORPUS / "fake-memo.pdf"
TABLE_PNG = CORPUS / "table-multi-row-column-cells.png"
PHOTO_JPG = CORPUS / "example.jpg"

RULES = [
    {"type": "memo", "description": "An internal memo or letter reporting facts to colleagues"},
    {"type": "invoice", "description": "A bill requesting payment with line items and totals"},
    {"type": "table", "description": "A page that is mostly a data table with rows and columns"},
]
TYPES = ["memo", "invoice", "table", "unknown"]


def answer(
    type_: str,
    confidence: float,
    runner_up: dict[str, Any] | None = None,
    reasoning: str = "The layout and wording say so.",
) -> dict[str, Any]:
    return {"reasoning": reasoning, "type": type_, "confidence": confidence, "runner_up": runner_up}


def classify(
    path: Path, llm: FakeLLM | None, file_name: str | None = None, **config: Any
) -> dict[str, Any]:
    """Run the engine; return its output JSON plus the metadata under ``_metadata``."""
    result = classify_document_llm(
        EngineRequest(
            path=str(path),
            file_name=file_name or path.name,
            job_type="classify",
            config={"rules": RULES, "mode": "MULTIMODAL", **config},
            options=llm.options() if llm is not None else {},
        )
    )
    assert result.content_type == "application/json"
    assert result.extension == "json"
    output: dict[str, Any] = json.loads(result.content)
    output["_metadata"] = result.metadata
    return output


def test_pdf_is_classified_from_its_text_and_first_page_picture(llm: FakeLLM) -> None:
    llm.reply_json(answer("memo", 0.92, {"type": "invoice", "confidence": 0.05}))

    output = classify(MEMO, llm)

    assert output["type"] == "memo"
    assert output["confidence"] == 0.92
    assert output["runner_up"] == {"type": "invoice", "confidence": 0.05}
    assert output["scores"] == {"memo": 0.92, "invoice": 0.05}
    assert output["reasoning"] == "The layout and wording say so."
    metadata = output["_metadata"]
    assert metadata["mode"] == "MULTIMODAL"
    assert metadata["model"] == llm.model
    assert metadata["type"] == "memo"
    assert metadata["confidence"] == 0.92
    assert metadata["runner_up"] == {"type": "invoice", "confidence": 0.05}
    assert metadata["image"] is True
    assert metadata["source_format"] == "pdf"

    [request] = llm.requests
    assert request.headers["authorization"] == f"Bearer {llm.api_key}"
    # The rules, and the document's own words, reach the model.
    assert "memo: An internal memo" in request.text()
    assert "20,000 bottles of water" in request.text()
    [(mime, png)] = request.images()
    assert mime == "image/png"
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG"
    assert picture.size == (850, 1100)  # a US Letter page at 100 DPI

    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    assert schema["properties"]["type"]["enum"] == TYPES
    assert schema["properties"]["confidence"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert set(schema["required"]) == {"reasoning", "type", "confidence", "runner_up"}


def test_png_is_sent_as_is_with_its_ocr_text(llm: FakeLLM) -> None:
    llm.reply_json(answer("table", 0.8))

    output = classify(TABLE_PNG, llm)

    assert output["type"] == "table"
    assert output["runner_up"] is None
    assert output["_metadata"]["image"] is True
    [request] = llm.requests
    [(mime, data)] = request.images()
    assert mime == "image/png"
    assert data == TABLE_PNG.read_bytes()
    # The picture goes as it is; the parse engine's OCR text comes with it when it has any.
    assert "no text layer" not in request.text() or not shutil.which("tesseract")


def test_jpeg_keeps_its_type(llm: FakeLLM) -> None:
    llm.reply_json(answer("unknown", 0.7))

    output = classify(PHOTO_JPG, llm)

    assert output["type"] == "unknown"
    [(mime, data)] = llm.requests[0].images()
    assert mime == "image/jpeg"
    assert data == PHOTO_JPG.read_bytes()


def test_large_images_are_downscaled(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    Image.new("RGB", (4000, 3000), "white").save(path)
    llm.reply_json(answer("memo", 0.9))

    classify(path, llm)

    [(mime, data)] = llm.requests[0].images()
    assert mime == "image/png"
    assert Image.open(io.BytesIO(data)).size == (MAX_IMAGE_SIDE, 1200)


def test_other_image_formats_are_sent_as_png(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "scan.bmp"
    Image.new("RGB", (300, 200), "white").save(path)
    llm.reply_json(answer("memo", 0.9))

    classify(path, llm)

    [(mime, data)] = llm.requests[0].images()
    assert mime == "image/png"
    assert Image.open(io.BytesIO(data)).size == (300, 200)


def test_scanned_pdf_is_classified_from_its_picture(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(make_pdf([""]))
    llm.reply_json(answer("memo", 0.6))

    output = classify(path, llm)

    assert output["type"] == "memo"
    assert len(llm.requests[0].images()) == 1
    assert "no text layer" in llm.requests[0].text()


def test_text_documents_are_sent_without_a_picture(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("Invoice INV-7\nTotal due: 120 EUR\n" + "x" * (MAX_TEXT_CHARS * 2))
    llm.reply_json(answer("invoice", 0.95))

    output = classify(path, llm)

    assert output["type"] == "invoice"
    assert output["_metadata"]["image"] is False
    assert output["_metadata"]["truncated"] is True
    assert output["_metadata"]["characters"] == MAX_TEXT_CHARS
    [request] = llm.requests
    assert request.images() == []
    assert "Total due: 120 EUR" in request.text()
    assert len(request.text()) < MAX_TEXT_CHARS + 2000


def test_the_picture_is_of_the_first_selected_page(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "two.pdf"
    path.write_bytes(make_pdf(["Cover page", "Memo: the trucks arrived"]))
    llm.reply_json(answer("memo", 0.9))

    classify(path, llm, parsing_configuration={"target_pages": "1"})

    [request] = llm.requests
    assert "the trucks arrived" in request.text()
    assert "Cover page" not in request.text()
    assert len(request.images()) == 1


def test_below_the_threshold_is_unknown(llm: FakeLLM) -> None:
    llm.reply_json(answer("memo", 0.3, {"type": "invoice", "confidence": 0.2}))

    output = classify(MEMO, llm)

    assert DEFAULT_CONFIDENCE_THRESHOLD == 0.5
    assert output["type"] == "unknown"
    assert output["confidence"] == 0.3
    assert output["runner_up"] == {"type": "memo", "confidence": 0.3}
    assert output["reasoning"].startswith("below confidence threshold 0.5")
    assert output["_metadata"]["type"] == "unknown"


def test_the_configured_threshold_applies(llm: FakeLLM) -> None:
    llm.reply_json(answer("memo", 0.3))
    llm.reply_json(answer("memo", 0.8))

    assert classify(MEMO, llm, confidence_threshold=0.25)["type"] == "memo"
    assert classify(MEMO, llm, confidence_threshold=0.9)["type"] == "unknown"


def test_types_are_matched_loosely_and_strangers_are_unknown(llm: FakeLLM) -> None:
    llm.reply_json(answer(" Memo ", 0.9))
    llm.reply_json(answer("receipt", 0.9))

    assert classify(MEMO, llm)["type"] == "memo"
    stranger = classify(MEMO, llm)
    assert stranger["type"] == "unknown"
    assert "'receipt', not a rule type" in stranger["reasoning"]


def test_an_answer_without_confidence_is_a_transient_error(llm: FakeLLM) -> None:
    llm.reply_json({"type": "memo", "confidence": "high"})

    with pytest.raises(LLMResponseError):
        classify(MEMO, llm)


def test_missing_llm_configuration_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DOCBATCH_LLM_BASE_URL"):
        classify(MEMO, None)


def test_invalid_rules_are_a_config_error(llm: FakeLLM) -> None:
    with pytest.raises(ConfigError, match="rules"):
        classify(MEMO, llm, rules=[])
    with pytest.raises(ConfigError, match="confidence_threshold"):
        classify(MEMO, llm, confidence_threshold=2)
    assert llm.requests == []


def test_corrupt_documents_fail_before_calling_the_service(llm: FakeLLM, tmp_path: Path) -> None:
    broken_pdf = tmp_path / "broken.pdf"
    broken_pdf.write_bytes(b"%PDF-1.4\n garbage")
    broken_png = tmp_path / "broken.png"
    broken_png.write_bytes(b"\x89PNG\r\n\x1a\n not really")

    with pytest.raises(DocumentError, match="corrupted file"):
        classify(broken_pdf, llm)
    with pytest.raises(DocumentError, match=r"corrupted file: the \.png image"):
        classify(broken_png, llm)
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["Secret memo"], user_password="pw"))
    with pytest.raises(DocumentError, match="encrypted PDF"):
        classify(locked, llm)
    with pytest.raises(DocumentError, match="unsupported format"):
        classify(CORPUS / "fake.doc", llm, "message.msg")
    assert llm.requests == []

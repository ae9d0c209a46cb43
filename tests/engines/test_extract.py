"""The extract engine against the fake LLM service: fill, validate, report."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from docbatch.engines.base import EngineRequest, EngineResult
from docbatch.engines.extract import DEFAULT_SYSTEM_PROMPT, extract_document
from docbatch.errors import ConfigError, DocumentError
from docbatch.llm import LLMStatusError
from tests.engines.pdf_factory import make_pdf
from tests.fake_llm import FakeLLM

INVOICE_TEXT = """\
ACME Office Supplies Ltd.
INVOICE
Invoice No: INV-2024-0187
Invoice date: 2024-03-14
Bill to: Northwind Traders

A4 copier paper (box of 5)      10   21.50   215.00
Toner cartridge HP 305A          4   64.00   256.00

Total due: 471.00 GBP
"""

INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Invoice",
    "properties": {
        "invoice_number": {"type": "string"},
        "invoice_date": {"type": "string", "format": "date"},
        "customer": {"type": ["string", "null"]},
        "total": {"type": "number"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "amount": {"type": "number"},
                },
                "required": ["description", "quantity", "amount"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["invoice_number", "invoice_date", "customer", "total", "lines"],
    "additionalProperties": False,
}

INVOICE_DATA: dict[str, Any] = {
    "invoice_number": "INV-2024-0187",
    "invoice_date": "2024-03-14",
    "customer": None,
    "total": 471.0,
    "lines": [
        {"description": "A4 copier paper (box of 5)", "quantity": 10, "amount": 215.0},
        {"description": "Toner cartridge HP 305A", "quantity": 4, "amount": 256.0},
    ],
}


@pytest.fixture
def invoice(tmp_path: Path) -> Path:
    path = tmp_path / "invoice.txt"
    path.write_text(INVOICE_TEXT)
    return path


def extract(path: Path, llm: FakeLLM | None, config: dict[str, Any]) -> EngineResult:
    return extract_document(
        EngineRequest(
            path=str(path),
            file_name=path.name,
            job_type="extract",
            config=config,
            options=llm.options() if llm is not None else {},
        )
    )


def test_fills_the_schema_from_the_document(llm: FakeLLM, invoice: Path) -> None:
    llm.reply_json(INVOICE_DATA)

    result = extract(invoice, llm, {"data_schema": INVOICE_SCHEMA})

    assert result.content_type == "application/json"
    assert result.extension == "json"
    assert json.loads(result.content) == {"data": INVOICE_DATA, "schema_name": "Invoice"}
    assert result.metadata["model"] == llm.model
    assert result.metadata["fields"] == 4  # customer is null
    assert result.metadata["valid"] is True
    assert result.metadata["truncated"] is False
    assert result.metadata["usage"]["total_tokens"] == 120

    [request] = llm.requests
    assert request.headers["authorization"] == f"Bearer {llm.api_key}"
    assert request.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "schema": INVOICE_SCHEMA, "strict": True},
    }
    system, user = request.messages
    assert system == {"role": "system", "content": DEFAULT_SYSTEM_PROMPT}
    assert "Invoice No: INV-2024-0187" in user["content"]
    assert "File name: invoice.txt" in user["content"]


def test_reads_pdfs_with_the_parse_parameters(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(make_pdf(["Cover letter", "Invoice No: INV-9\nTotal due: 10.00"]))
    llm.reply_json({**INVOICE_DATA, "invoice_number": "INV-9", "lines": []})

    result = extract(
        path, llm, {"data_schema": INVOICE_SCHEMA, "parameters": {"target_pages": "1"}}
    )

    assert json.loads(result.content)["data"]["invoice_number"] == "INV-9"
    text = llm.requests[0].text()
    assert "Invoice No: INV-9" in text
    assert "Cover letter" not in text


def test_uses_the_markdown_of_the_parse_engines_json_output(
    llm: FakeLLM, invoice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = {
        "markdown": "| Invoice No | INV-77 |",
        "text": "Invoice No INV-77",
        "pages": [{"page": 1, "text": "Invoice No INV-77", "markdown": "| Invoice No | INV-77 |"}],
        "page_count": 1,
    }
    seen: list[EngineRequest] = []

    def fake_parse(request: EngineRequest) -> EngineResult:
        seen.append(request)
        return EngineResult(
            content=json.dumps(parsed),
            content_type="application/json",
            extension="json",
            metadata={"source_format": "pdf"},
        )

    monkeypatch.setattr("docbatch.engines.extract.parse_document", fake_parse)
    llm.reply_json(INVOICE_DATA)

    result = extract(
        invoice,
        llm,
        {"data_schema": INVOICE_SCHEMA, "parameters": {"max_pages": 2, "system_prompt": "x"}},
    )

    assert "| Invoice No | INV-77 |" in llm.requests[0].text()
    assert result.metadata["pages"] == 1
    assert result.metadata["source_format"] == "pdf"
    [request] = seen
    assert request.job_type == "parse"
    # Only the parse parameters reach the parser, not the prompts or the schema.
    assert request.config == {"max_pages": 2}


def test_an_invalid_answer_is_a_document_error_naming_the_path(llm: FakeLLM, invoice: Path) -> None:
    wrong = json.loads(json.dumps(INVOICE_DATA))
    wrong["lines"][1]["quantity"] = "four"
    llm.reply_json(wrong)

    with pytest.raises(DocumentError) as caught:
        extract(invoice, llm, {"data_schema": INVOICE_SCHEMA})

    message = str(caught.value)
    assert message.startswith("extracted data does not match the schema: ")
    assert "$.lines[1].quantity: 'four' is not of type 'integer'" in message
    assert len(llm.requests) == 1  # not asked again: the answer would not change


def test_formats_and_missing_fields_are_checked(llm: FakeLLM, invoice: Path) -> None:
    llm.reply_json({**INVOICE_DATA, "invoice_date": "14 March 2024"})
    incomplete = dict(INVOICE_DATA)
    del incomplete["total"]
    llm.reply_json(incomplete)

    with pytest.raises(DocumentError, match=r"\$\.invoice_date: '14 March 2024' is not a 'date'"):
        extract(invoice, llm, {"data_schema": INVOICE_SCHEMA})
    with pytest.raises(DocumentError, match=r"\$: 'total' is a required property"):
        extract(invoice, llm, {"data_schema": INVOICE_SCHEMA})


def test_the_parse_config_form_with_a_string_schema(llm: FakeLLM, invoice: Path) -> None:
    llm.reply_json(INVOICE_DATA)
    config = {
        "parameters": {
            "structured_output": True,
            "structured_output_json_schema": json.dumps(INVOICE_SCHEMA),
            "structured_output_json_schema_name": "acme_invoice",
            "system_prompt_append": "Amounts are in GBP.",
        }
    }

    result = extract(invoice, llm, config)

    assert json.loads(result.content) == {"data": INVOICE_DATA, "schema_name": "acme_invoice"}
    [request] = llm.requests
    assert request.body["response_format"]["json_schema"]["name"] == "acme_invoice"
    assert request.body["response_format"]["json_schema"]["schema"] == INVOICE_SCHEMA
    assert request.messages[0]["content"] == f"{DEFAULT_SYSTEM_PROMPT}\n\nAmounts are in GBP."


def test_a_custom_system_prompt_replaces_the_default(llm: FakeLLM, invoice: Path) -> None:
    llm.reply_json(INVOICE_DATA)

    extract(
        invoice,
        llm,
        {"data_schema": INVOICE_SCHEMA, "system_prompt": "Extract invoices for accounting."},
    )

    assert llm.requests[0].messages[0]["content"] == "Extract invoices for accounting."


def test_a_server_without_structured_output_still_gets_validated(
    llm: FakeLLM, invoice: Path
) -> None:
    for _ in range(2):
        llm.reply_error(400, "response_format json_schema unsupported", param="response_format")
    llm.reply_json({**INVOICE_DATA, "invoice_number": 187})

    with pytest.raises(DocumentError, match=r"\$\.invoice_number: 187 is not of type 'string'"):
        extract(invoice, llm, {"data_schema": INVOICE_SCHEMA})

    assert llm.requests[2].body["response_format"] == {"type": "json_object"}
    assert '"invoice_number"' in llm.requests[2].messages[0]["content"]


@pytest.mark.parametrize(
    ("config", "field", "match"),
    [
        ({}, "data_schema", "a JSON Schema describing the data to extract is required"),
        (
            {"data_schema": {"type": "object", "properties": {"a": {"type": "strnig"}}}},
            "data_schema",
            r"data_schema: not a valid JSON Schema: \$\.properties\.a\.type: 'strnig'",
        ),
        ({"data_schema": {"type": "array"}}, "data_schema", "must describe an object"),
        ({"data_schema": ["not", "a", "schema"]}, "data_schema", "must be a JSON Schema object"),
        (
            {"parameters": {"structured_output_json_schema": "{not json"}},
            "parameters.structured_output_json_schema",
            "not valid JSON",
        ),
        (
            {"parameters": {"structured_output_json_schema": '{"minLength": "3"}'}},
            "parameters.structured_output_json_schema",
            "not a valid JSON Schema",
        ),
    ],
)
def test_an_invalid_schema_is_a_config_error(
    llm: FakeLLM, invoice: Path, config: dict[str, Any], field: str, match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        extract(invoice, llm, config)

    assert caught.value.field == field
    assert llm.requests == []


def test_a_remote_ref_is_never_fetched(llm: FakeLLM, invoice: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"total": {"$ref": f"{llm.base_url}/schemas/money.json"}},
    }
    llm.reply_json({"total": 471})

    with pytest.raises(ConfigError, match="unresolvable"):
        extract(invoice, llm, {"data_schema": schema})

    assert [request.path for request in llm.requests] == ["/v1/chat/completions"]


def test_runs_in_a_spawned_worker_process(llm: FakeLLM, invoice: Path) -> None:
    # As in the worker's engine pool: the request, the result and the errors all cross
    # a process boundary by pickling.
    llm.reply_json(INVOICE_DATA)
    llm.reply_error(404, "The model `fake-vision-model` does not exist")
    request = EngineRequest(
        path=str(invoice),
        file_name=invoice.name,
        job_type="extract",
        config={"data_schema": INVOICE_SCHEMA},
        options=llm.options(),
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(extract_document, request).result(timeout=120)
        with pytest.raises(LLMStatusError) as caught:
            pool.submit(extract_document, request).result(timeout=120)

    assert json.loads(result.content)["data"] == INVOICE_DATA
    assert caught.value.status_code == 404
    assert not caught.value.retryable
    assert llm.api_key not in str(caught.value)


def test_missing_llm_configuration_is_a_config_error(invoice: Path) -> None:
    with pytest.raises(ConfigError, match="DOCBATCH_LLM_BASE_URL"):
        extract(invoice, None, {"data_schema": INVOICE_SCHEMA})


def test_an_unreadable_document_fails_before_calling_the_service(
    llm: FakeLLM, tmp_path: Path
) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("   \n")

    with pytest.raises(DocumentError, match="empty document"):
        extract(path, llm, {"data_schema": INVOICE_SCHEMA})

    assert llm.requests == []

"""The engine registry: dispatch by job type, runnable in a spawned process pool."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from docbatch.engines.base import EngineRequest
from docbatch.engines.classify import classify_document
from docbatch.engines.classify_llm import classify_document_llm
from docbatch.engines.extract import extract_document
from docbatch.engines.parse import parse_document
from docbatch.engines.registry import ENGINES, engine_for, run_engine
from docbatch.errors import DocumentError

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "documents"


def test_registry_maps_each_job_type_to_its_engine() -> None:
    assert ENGINES["parse"] is parse_document
    assert ENGINES["classify"] is classify_document
    assert ENGINES["extract"] is extract_document
    assert set(ENGINES) == {"parse", "classify", "extract"}


def test_multimodal_classify_goes_to_the_llm_engine() -> None:
    request = EngineRequest(
        path="x.pdf", file_name="x.pdf", job_type="classify", config={"mode": "MULTIMODAL"}
    )
    assert engine_for(request) is classify_document_llm
    fast = EngineRequest(path="x.pdf", file_name="x.pdf", job_type="classify")
    assert engine_for(fast) is classify_document


def test_unknown_job_type_is_a_value_error() -> None:
    request = EngineRequest(path="x.pdf", file_name="x.pdf", job_type="summarise")
    with pytest.raises(ValueError, match="no engine for job type 'summarise'"):
        run_engine(request)


def test_engines_run_in_a_spawned_process_pool() -> None:
    parse_request = EngineRequest(
        path=str(CORPUS / "fake-text.txt"), file_name="fake-text.txt", job_type="parse"
    )
    classify_request = EngineRequest(
        path=str(CORPUS / "layout-parser-paper-fast.pdf"),
        file_name="layout-parser-paper-fast.pdf",
        job_type="classify",
        config={
            "rules": [
                {"type": "paper", "description": "A research article with an abstract"},
                {"type": "invoice", "description": "A bill with totals and a due date"},
            ]
        },
    )
    failing_request = EngineRequest(
        path=str(CORPUS / "fake.doc"), file_name="message.msg", job_type="parse"
    )
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        parsed = pool.submit(run_engine, parse_request).result(timeout=120)
        classified = pool.submit(run_engine, classify_request).result(timeout=120)
        failed = pool.submit(run_engine, failing_request)
        with pytest.raises(DocumentError, match=r"^unsupported format \.msg"):
            failed.result(timeout=120)
    assert json.loads(parsed.content)["markdown"].startswith("This is a test document")
    assert classified.metadata["type"] == "paper"

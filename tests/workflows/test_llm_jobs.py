"""Extract and MULTIMODAL classify jobs end to end, against a fake LLM endpoint.

The fake (``tests/fake_llm.py``) is a real local HTTP server standing in for a paid LLM
service; everything else is real: Temporal, the store, the worker, the engines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from docbatch import service
from docbatch.errors import ConfigError
from docbatch.models import ItemStatus, JobStatus, JobType
from tests.conftest import StackFactory
from tests.fake_llm import DEFAULT_API_KEY, DEFAULT_MODEL, FakeLLM
from tests.workflows.helpers import run_folder_job, start_folder_job

SCHEMA = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string"},
        "total": {"type": "number"},
    },
    "required": ["invoice_number", "total"],
}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """The fake endpoint (it stands in for a paid LLM service)."""
    with FakeLLM() as fake:
        yield fake


def _invoices(folder: Path) -> None:
    folder.mkdir()
    (folder / "a.txt").write_text("INVOICE INV-001\nTotal due: $120.50\n")
    (folder / "b.txt").write_text("INVOICE INV-002\nTotal due: $99.00\n")


async def test_extract_job_fills_and_validates_the_schema(
    make_stack: StackFactory, llm: FakeLLM, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    _invoices(folder)
    llm.reply_json({"invoice_number": "INV-001", "total": 120.5})
    llm.reply_json({"invoice_number": "INV-002", "total": "ninety-nine"})  # invalid
    async with make_stack(
        llm_base_url=llm.base_url, llm_api_key=DEFAULT_API_KEY, llm_model=DEFAULT_MODEL,
        max_concurrent_children=1,
    ) as stack:  # fmt: skip
        status = await run_folder_job(stack, folder, {"data_schema": SCHEMA})
        items = {i.item_name: i for i in (await service.list_items(stack.store, status.job.id))[0]}
        result = (await service.get_results(stack.store, items["a.txt"].item_id)).processing_results

    assert status.job.job_type == JobType.EXTRACT
    assert items["a.txt"].status == ItemStatus.COMPLETED
    assert result
    output = json.loads(await stack.blobs.read_text(result[0].output_s3_path))
    assert output["data"] == {"invoice_number": "INV-001", "total": 120.5}
    assert items["b.txt"].status == ItemStatus.FAILED
    assert "does not match the schema" in (items["b.txt"].error_message or "")
    assert "total" in (items["b.txt"].error_message or "")
    # The schema went to the endpoint as structured output.
    assert llm.requests[0].body["response_format"]["type"] == "json_schema"


async def test_multimodal_classify_uses_the_endpoint(
    make_stack: StackFactory, llm: FakeLLM, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    _invoices(folder)
    llm.reply_json({"type": "invoice", "confidence": 0.93, "reasoning": "totals"})
    llm.reply_json({"type": "invoice", "confidence": 0.91, "reasoning": "totals"})
    config = {
        "mode": "MULTIMODAL",
        "rules": [
            {"type": "invoice", "description": "A bill asking for payment of a total."},
            {"type": "letter", "description": "A personal or business letter."},
        ],
    }
    async with make_stack(
        llm_base_url=llm.base_url, llm_api_key=DEFAULT_API_KEY, llm_model=DEFAULT_MODEL
    ) as stack:
        status = await run_folder_job(stack, folder, config)
        items, _ = await service.list_items(stack.store, status.job.id)
        results = [
            (await service.get_results(stack.store, i.item_id)).processing_results for i in items
        ]

    assert status.job.status == JobStatus.COMPLETED
    assert all(r and r[0].output_metadata and r[0].output_metadata["type"] == "invoice"
               for r in results)  # fmt: skip
    assert len(llm.requests) == 2


async def test_llm_jobs_are_rejected_without_an_endpoint(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    _invoices(folder)
    async with make_stack() as stack:
        with pytest.raises(ConfigError, match="need an LLM endpoint") as extract:
            await start_folder_job(stack, folder, {"data_schema": SCHEMA})
        with pytest.raises(ConfigError, match="need an LLM endpoint"):
            await start_folder_job(
                stack,
                folder,
                {"mode": "MULTIMODAL", "rules": [{"type": "x", "description": "ten chars+"}]},
            )
        _, total = await service.list_jobs(stack.store)
    assert extract.value.field == "job_config"
    assert total == 0

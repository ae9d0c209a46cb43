"""Extract and classify batches through ``llama-cloud`` 2.19: each file becomes an
extract (``ejb-``) or classify (``cjb-``) job read with ``client.extract`` and
``client.classify``. The LLM behind extract is the local fake (``tests/fake_llm.py``),
standing in for a paid service; classify's FAST mode runs locally."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import llama_cloud
import pytest

from tests.api.conftest import Api, ApiFactory
from tests.fake_llm import DEFAULT_API_KEY, DEFAULT_MODEL, FakeLLM

SCHEMA = {
    "type": "object",
    "properties": {"invoice_number": {"type": "string"}, "total": {"type": "number"}},
    "required": ["invoice_number", "total"],
    "additionalProperties": False,
}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        yield fake


async def _folder_directory(api: Api, files: dict[str, str], tmp_path: Path) -> str:
    directory = await api.client.beta.directories.create(name="docs")
    for name, text in sorted(files.items()):
        path = tmp_path / name
        path.write_text(text)
        with path.open("rb") as handle:
            await api.client.beta.directories.files.upload(directory.id, upload_file=handle)
    return directory.id


async def _results(api: Api, batch_id: str) -> list[Any]:
    for _ in range(1200):
        batch = await api.client.batches.get(batch_id, expand=["results"])
        if batch.status in {"COMPLETED", "FAILED", "CANCELLED"}:
            assert batch.status == "COMPLETED"
            assert batch.results is not None
            return batch.results
        await asyncio.sleep(0.1)
    raise AssertionError("batch did not end")


async def test_extract_batch_and_extract_jobs(
    make_api: ApiFactory, llm: FakeLLM, tmp_path: Path
) -> None:
    llm.reply_json({"invoice_number": "INV-001", "total": 120.5})
    async with make_api(
        llm_base_url=llm.base_url, llm_api_key=DEFAULT_API_KEY, llm_model=DEFAULT_MODEL
    ) as api:
        configuration = await api.client.configurations.create(
            name="invoices",
            parameters={
                "product_type": "extract_v2",
                "data_schema": SCHEMA,
                "cite_sources": True,
                "target_pages": "1",
            },
        )
        directory_id = await _folder_directory(
            api, {"a.txt": "INVOICE INV-001\nTotal due: $120.50\n"}, tmp_path
        )
        batch = await api.client.batches.create(
            config={"job": {"type": "extract_v2", "configuration_id": configuration.id}},
            source_directory_id=directory_id,
        )
        results = await _results(api, batch.id)
        assert len(results) == 1
        reference = results[0].job_reference
        assert reference is not None
        assert reference.type == "extract_v2"
        assert reference.id.startswith("ejb-")
        job = await api.client.extract.get(reference.id)
        assert job.status == "COMPLETED"
        assert job.extract_result == {"invoice_number": "INV-001", "total": 120.5}
        assert job.configuration_id == configuration.id
        assert job.configuration is not None
        assert job.configuration.data_schema == SCHEMA
        assert job.file_input == results[0].source_directory_file_id
        listed = [j.id async for j in api.client.extract.list()]
        assert listed == [reference.id]
        with pytest.raises(llama_cloud.NotFoundError):
            await api.client.extract.get(reference.id.replace("ejb-", "pjb-"))
        with pytest.raises(llama_cloud.NotFoundError):
            await api.client.parsing.get(reference.id.replace("ejb-", "pjb-"))
        with pytest.raises(llama_cloud.NotFoundError):
            await api.other.extract.get(reference.id)


async def test_classify_batch_and_classify_jobs(api: Api, tmp_path: Path) -> None:
    configuration = await api.client.configurations.create(
        name="kinds",
        parameters={
            "product_type": "classify_v2",
            "rules": [
                {"type": "invoice", "description": "A bill requesting payment with line "
                 "items, totals, an invoice number and a due date"},
                {"type": "resume", "description": "A CV listing a person's work experience, "
                 "education and skills"},
            ],
            "mode": "FAST",
        },
    )  # fmt: skip
    directory_id = await _folder_directory(
        api,
        {
            "invoice.txt": "INVOICE No. 2024-117\nBill to: ACME Corp\nLine items: 3 x "
            "consulting hours $450\nSubtotal $1,350  Tax $135  Total due $1,485\n"
            "Payment due date: 30 days\n",
            "resume.txt": "Jane Doe — Curriculum Vitae\nWork experience: Senior engineer at "
            "Initech 2018-2024\nEducation: MSc Computer Science\nSkills: Python, "
            "distributed systems, leadership\n",
        },
        tmp_path,
    )
    batch = await api.client.batches.create(
        config={"job": {"type": "classify_v2", "configuration_id": configuration.id}},  # type: ignore[typeddict-item]
        source_directory_id=directory_id,
    )
    results = await _results(api, batch.id)
    assert len(results) == 2
    seen = {}
    for result in results:
        assert result.job_reference is not None
        assert result.job_reference.id.startswith("cjb-")
        job = await api.client.classify.get(result.job_reference.id)
        assert job.status == "COMPLETED"
        assert job.result is not None
        assert 0 <= job.result.confidence <= 1
        assert [r.type for r in job.configuration.rules] == ["invoice", "resume"]
        seen[job.file_input] = job.result.type
    assert sorted(seen.values()) == ["invoice", "resume"]
    listed = [j async for j in api.client.classify.list(status="COMPLETED")]
    assert len(listed) == 2
    assert [j async for j in api.client.classify.list(status="FAILED")] == []

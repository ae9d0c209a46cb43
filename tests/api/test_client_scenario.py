"""The reference's official client, unmodified, driving docbatch end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import llama_cloud
import pytest

from tests.api.conftest import PROJECT_A, Api, ApiFactory, upload_folder
from tests.conftest import CORPUS
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import write_text_files

TERMINAL = {"completed", "failed", "cancelled"}


async def _wait_terminal(api: Api, job_id: str, timeout: float = 180) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        status = await api.client.beta.batch.get_status(job_id)
        assert 0 <= status.progress_percentage <= 100
        if status.job.status in TERMINAL:
            return status
        assert loop.time() < deadline, f"job still {status.job.status}"
        await asyncio.sleep(0.2)


async def test_parse_the_corpus_through_the_official_client(api: Api) -> None:
    client = api.client
    directory = await client.beta.directories.create(name="corpus", project_id=PROJECT_A)
    assert directory.project_id == PROJECT_A
    names = await upload_folder(api, directory.id, CORPUS)
    listed = [f async for f in client.beta.directories.files.list(directory.id, page_size=7)]
    assert sorted(f.id for f in listed) == sorted(names)

    job = await client.beta.batch.create(
        job_config={"job_name": "parse_raw_file_job", "parameters": {"page_separator": "\n---\n"}},
        directory_id=directory.id,
        project_id=PROJECT_A,
        page_size=20,
        temporal_namespace="default",
    )
    assert job.status == "pending"
    assert job.job_type == "parse"
    assert job.workflow_id == f"batch-{job.id}"

    status = await _wait_terminal(api, job.id)
    assert status.job.status == "completed"
    assert status.progress_percentage == 100
    assert status.job.total_items == len(names)

    # Paging through every item, seven at a time, as the client pages by itself.
    items = [i async for i in client.beta.batch.job_items.list(job.id, limit=7)]
    assert sorted(i.item_id for i in items) == sorted(names)
    assert all(i.status in {"completed", "failed"} for i in items)
    failed = [i async for i in client.beta.batch.job_items.list(job.id, status="failed", limit=3)]
    assert {i.item_name for i in failed} >= {"empty.xlsx", "example.jpg"}
    assert all(i.error_message for i in failed)
    assert status.job.failed_items == len(failed)

    completed = [i for i in items if i.status == "completed"]
    assert len(completed) + len(failed) == len(names)
    for item in completed[:10]:
        results = await client.beta.batch.job_items.get_processing_results(item.item_id)
        assert results.item_name == names[item.item_id]
        assert results.processing_results is not None
        assert len(results.processing_results) == 1
        result = results.processing_results[0]
        assert result.job_type == "parse"
        assert result.output_s3_path
        assert len(result.parameters_hash) == 64
        assert result.job_config.parameters.page_separator == "\n---\n"  # type: ignore[union-attr]

    by_directory = [j async for j in client.beta.batch.list(directory_id=directory.id)]
    assert [j.id for j in by_directory] == [job.id]
    assert [j.id async for j in client.beta.batch.list(job_type="parse", status="completed")] == [
        job.id
    ]
    assert [j.id async for j in client.beta.batch.list(job_type="classify")] == []
    assert [j.id async for j in client.beta.batch.list(status="running")] == []


async def test_item_ids_mode_and_classify_with_rules(api: Api, tmp_path: Path) -> None:
    client = api.client
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "invoice.txt").write_text(
        "INVOICE No. 2024-117\nBill to: ACME Corp\nLine items: 3 x consulting hours $450\n"
        "Subtotal $1,350  Tax $135  Total due $1,485\nPayment due date: 30 days\n"
    )
    (folder / "resume.txt").write_text(
        "Jane Doe — Curriculum Vitae\nWork experience: Senior engineer at Initech 2018-2024\n"
        "Education: MSc Computer Science\nSkills: Python, distributed systems, leadership\n"
    )
    (folder / "other.txt").write_text("Not part of this job.\n")
    directory = await client.beta.directories.create(name="mixed")
    uploaded = await upload_folder(api, directory.id, folder)
    chosen = [fid for fid, name in uploaded.items() if name != "other.txt"]

    job = await client.beta.batch.create(
        job_config={
            "id": "cls-1",
            "project_id": PROJECT_A,
            "user_id": "user-1",
            "status": "PENDING",
            "mode": "FAST",
            "rules": [
                {"type": "invoice", "description": "A bill requesting payment with line "
                 "items, totals, an invoice number and a due date"},
                {"type": "resume", "description": "A CV listing a person's work experience, "
                 "education and skills"},
            ],
        },
        item_ids=chosen,
    )  # fmt: skip
    assert job.job_type == "classify"
    status = await _wait_terminal(api, job.id)
    assert status.job.status == "completed"
    assert status.job.total_items == 2

    for item in [i async for i in client.beta.batch.job_items.list(job.id)]:
        results = await client.beta.batch.job_items.get_processing_results(
            item.item_id, job_type="classify"
        )
        assert results.processing_results
        metadata = results.processing_results[0].output_metadata
        assert isinstance(metadata, dict)
        assert metadata["type"] == item.item_name.removesuffix(".txt")


async def test_cancel_a_running_job(make_api: ApiFactory, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 40)
    async with make_api(engine=slow_engine, max_concurrent_children=3) as api:
        client = api.client
        directory = await client.beta.directories.create(name="slow")
        await upload_folder(api, directory.id, folder)
        job = await client.beta.batch.create(job_config={}, directory_id=directory.id)

        async def some_done() -> bool:
            status = await client.beta.batch.get_status(job.id)
            return (status.job.processed_items or 0) >= 3

        for _ in range(300):
            if await some_done():
                break
            await asyncio.sleep(0.1)
        response = await client.beta.batch.cancel(job.id, reason="changed my mind")

        assert response.job_id == job.id
        assert response.status == "cancelled"
        assert response.processed_items >= 3
        assert "changed my mind" in response.message
        final = await client.beta.batch.get_status(job.id)
        assert final.job.status == "cancelled"
        items = [i async for i in client.beta.batch.job_items.list(job.id, limit=100)]
        assert len(items) == 40
        assert all(i.status in {"completed", "failed", "cancelled"} for i in items)
        cancelled = sum(1 for i in items if i.status == "cancelled")
        assert cancelled > 0
        assert (final.job.processed_items or 0) + cancelled == 40
        assert response.processed_items == final.job.processed_items

        with pytest.raises(llama_cloud.ConflictError):
            await client.beta.batch.cancel(job.id)


async def test_another_project_sees_nothing_of_the_first(api: Api, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    directory = await api.client.beta.directories.create(name="private")
    uploaded = await upload_folder(api, directory.id, folder)
    job = await api.client.beta.batch.create(job_config={}, directory_id=directory.id)
    await _wait_terminal(api, job.id)
    item_id = next(iter(uploaded))

    other = api.other
    for call in (
        other.beta.batch.get_status(job.id),
        other.beta.batch.cancel(job.id),
        other.beta.batch.job_items.list(job.id),
        other.beta.batch.job_items.get_processing_results(item_id),
        other.beta.directories.get(directory.id),
        other.beta.directories.files.get(item_id, directory_id=directory.id),
        other.beta.directories.files.list(directory.id),
    ):
        with pytest.raises(llama_cloud.NotFoundError):
            await call
    assert [j async for j in other.beta.batch.list()] == []
    assert [d async for d in other.beta.directories.list()] == []
    with pytest.raises(llama_cloud.UnprocessableEntityError) as foreign_dir:
        await other.beta.batch.create(job_config={}, directory_id=directory.id)
    assert "directory_id" in json.dumps(foreign_dir.value.body)
    with pytest.raises(llama_cloud.UnprocessableEntityError) as foreign_items:
        await other.beta.batch.create(job_config={}, item_ids=[item_id])
    assert "item_ids" in json.dumps(foreign_items.value.body)
    # A project_id that is not the key's own is refused outright.
    with pytest.raises(llama_cloud.PermissionDeniedError):
        await other.beta.batch.get_status(job.id, project_id=PROJECT_A)
    with pytest.raises(llama_cloud.PermissionDeniedError):
        await api.client.beta.batch.list(organization_id="org-someone-else")


async def test_a_beta_job_reads_through_the_v2_api(api: Api, tmp_path: Path) -> None:
    """The other direction of tests/api_v2: one core, two generations."""
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    directory = await api.client.beta.directories.create(name="both")
    names = await upload_folder(api, directory.id, folder)
    job = await api.client.beta.batch.create(job_config={}, directory_id=directory.id)
    await _wait_terminal(api, job.id)
    headers = {"Authorization": f"Bearer {api.key_a}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers) as http:
        batch = (await http.get(f"/api/v2/batches/{job.id}", params={"expand": "results"})).json()
        assert batch["status"] == "COMPLETED"
        assert batch["config"]["job"] == {"type": "parse_v2", "configuration_id": "inline"}
        assert sorted(r["source_directory_file_id"] for r in batch["results"]) == sorted(names)
        listed = (await http.get("/api/v2/batches")).json()
        assert [b["id"] for b in listed["items"]] == [job.id]
        for result in batch["results"]:
            parse_id = result["job_reference"]["id"]
            parsed = (
                await http.get(f"/api/v2/parse/{parse_id}", params={"expand": "markdown,text"})
            ).json()
            assert parsed["job"]["status"] == "COMPLETED"
            assert parsed["job"]["name"] == names[result["source_directory_file_id"]]
            assert "This is the body of document number" in parsed["text_full"]
        other = await http.get(
            f"/api/v2/batches/{job.id}", headers={"Authorization": f"Bearer {api.key_b}"}
        )
        assert other.status_code == 404

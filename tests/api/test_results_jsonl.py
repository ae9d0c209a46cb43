"""``GET /api/v1/beta/batch-processing/{job_id}/results.jsonl`` over real batches: a line
per item with its status and output, project scoping, content modes and filters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from docbatch import export
from docbatch.store.tables import JobRow
from tests.api.conftest import Api
from tests.conftest import CORPUS
from tests.test_export import CLASSIFY_CONFIG, FAILING, NESTED, copy_nested_corpus
from tests.workflows.helpers import run_folder_job

BATCH = "/api/v1/beta/batch-processing"


async def _lines(api: Api, job_id: str, key: str | None = None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or api.key_a}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http:
        return await http.get(f"{BATCH}/{job_id}/results.jsonl", params=params)


def _parsed(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def _by_name(response: httpx.Response) -> dict[str, dict[str, Any]]:
    return {line["item_name"]: line for line in _parsed(response)}


async def _job(api: Api, folder: Path, config: dict[str, Any] | None = None) -> JobRow:
    status = await run_folder_job(api.stack, folder, config)
    return await api.stack.store.jobs.get_job(status.job.id)


async def test_a_line_per_item_with_its_status_and_inline_output(api: Api, tmp_path: Path) -> None:
    folder = copy_nested_corpus(tmp_path / "docs")
    shutil.copyfile(CORPUS / "fake-text.txt", folder / "reports" / "again.txt")  # deduped
    job = await _job(api, folder)
    store, blobs = api.stack.store, api.stack.blobs

    lines = _parsed(await _lines(api, job.id))

    items, total = await store.items.list_items(job.id, limit=1000)
    assert total == len(NESTED) + 1
    assert [line["item_id"] for line in lines] == [item.item_id for item in items]
    for line, item in zip(lines, items, strict=True):
        assert line["item_name"] == item.item_name
        assert line["status"] == item.status
        assert line["error_message"] == item.error_message
        assert line["parameters_hash"] == job.parameters_hash
        if item.item_name == FAILING:
            assert line["status"] == "failed"
            assert "empty document" in line["error_message"]
            assert line["content"] is None and line["output_s3_path"] is None
            continue
        assert item.result_id is not None
        result = await store.items.get_result(item.result_id)
        stored = json.loads(await blobs.read_bytes(result.output_location))
        assert line["content"] == stored["markdown"]
        assert line["output_s3_path"] == result.output_location
        assert line["processing_results_path"] == (
            f"{BATCH}/items/{item.item_id}/processing-results"
        )
        assert line["content_error"] is None


async def test_reference_mode_status_filter_and_project_scoping(api: Api, tmp_path: Path) -> None:
    folder = copy_nested_corpus(tmp_path / "docs")
    job = await _job(api, folder)

    referenced = _parsed(await _lines(api, job.id, content="reference"))
    failed = _parsed(await _lines(api, job.id, status="failed"))
    other_project = await _lines(api, job.id, key=api.key_b)
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        anonymous = await http.get(f"{BATCH}/{job.id}/results.jsonl")
    bad_mode = await _lines(api, job.id, content="everything")

    assert len(referenced) == len(NESTED)
    assert all(line["content"] is None for line in referenced)
    assert sum(1 for line in referenced if line["output_s3_path"]) == len(NESTED) - 1
    assert [line["item_name"] for line in failed] == [FAILING]
    assert other_project.status_code == 404
    assert f"job {job.id} not found" in other_project.text
    assert anonymous.status_code == 401
    assert bad_mode.status_code == 422


async def test_auto_mode_references_outputs_too_large_to_inline(api: Api, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    text = "A line of a long plain text document, repeated to make it large.\n"
    (folder / "large.txt").write_text(text * (export.INLINE_LIMIT_BYTES // len(text) + 10))
    (folder / "small.txt").write_text("A small document.\n")
    job = await _job(api, folder)

    auto = _by_name(await _lines(api, job.id))
    inline = _by_name(await _lines(api, job.id, content="inline"))

    assert auto["small.txt"]["content"].strip() == "A small document."
    assert auto["large.txt"]["content"] is None
    assert "not inline" in auto["large.txt"]["content_error"]
    assert len(inline["large.txt"]["content"]) > export.INLINE_LIMIT_BYTES


async def test_classify_results_are_inline_json(api: Api, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "invoice.txt").write_text(
        "INVOICE No. 2024-117\nBill to: ACME Corp\nLine items: 3 x consulting hours $450\n"
        "Subtotal $1,350  Tax $135  Total due $1,485\nPayment due date: 30 days\n"
    )
    job = await _job(api, folder, CLASSIFY_CONFIG)

    [line] = _parsed(await _lines(api, job.id))

    assert line["status"] == "completed"
    stored = json.loads(await api.stack.blobs.read_bytes(line["output_s3_path"]))
    assert line["content"] == stored
    assert line["content"]["type"] == "invoice"

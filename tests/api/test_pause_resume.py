"""``POST …/{job_id}/pause`` and ``/resume`` (docbatch extensions) over a real batch, and
what the official client reads meanwhile: ``status`` stays ``running``, ``paused`` beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import Api, ApiFactory
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import (
    children_started,
    parent_histories,
    start_folder_job,
    wait_job,
    wait_until,
    write_text_files,
)

BATCH = "/api/v1/beta/batch-processing"
ITEMS = 20


async def _post(api: Api, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or api.key_a}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http:
        return await http.post(f"{BATCH}{path}")


async def _status(api: Api, job_id: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {api.key_a}"}
    async with httpx.AsyncClient(base_url=api.base_url, headers=headers, timeout=60) as http:
        response = await http.get(f"{BATCH}/{job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_pause_and_resume_over_http(make_api: ApiFactory, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, ITEMS)
    async with make_api(engine=slow_engine, max_concurrent_children=2) as api:
        job = await start_folder_job(api.stack, folder)

        async def started() -> bool:
            return (await api.stack.store.jobs.get_job(job.id)).completed_items >= 1

        await wait_until(started)
        assert (await _post(api, f"/{job.id}/pause", key=api.key_b)).status_code == 404

        paused = await _post(api, f"/{job.id}/pause")

        assert paused.status_code == 200, paused.text
        assert paused.json()["paused"] is True and paused.json()["status"] == "running"
        shown = await _status(api, job.id)
        assert (shown["job"]["status"], shown["job"]["paused"]) == ("running", True)
        official = await api.client.beta.batch.get_status(job.id)
        assert official.job.status == "running"  # the reference's enum, unchanged
        dispatched = sum(
            children_started(h) for h in await parent_histories(api.stack, job.workflow_id)
        )
        again = await _post(api, f"/{job.id}/pause")  # idempotent
        assert again.status_code == 200 and again.json()["paused"] is True
        assert (
            sum(children_started(h) for h in await parent_histories(api.stack, job.workflow_id))
            == dispatched
        )

        resumed = await _post(api, f"/{job.id}/resume")

        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["paused"] is False
        final = await wait_job(api.stack, job)
        assert final.job.processed_items == ITEMS
        assert final.job.paused is False
        ended = await _post(api, f"/{job.id}/resume")
        assert ended.status_code == 409, ended.text
        assert "already completed" in ended.text
        assert (await _post(api, "/bjb-unknown/pause")).status_code == 404

"""Idempotent create and retry-failed over HTTP (the official client plus a header)."""

from __future__ import annotations

import httpx
import llama_cloud
import pytest

from tests.api.conftest import Api
from tests.conftest import CORPUS


async def _directory_with_a_bad_file(api: Api) -> str:
    directory = await api.client.beta.directories.create(name="ops")
    files = api.client.beta.directories.files
    await files.upload(directory.id, upload_file=("ok.txt", b"A perfectly fine document."))
    await files.upload(directory.id, upload_file=("mail.msg", (CORPUS / "fake.doc").read_bytes()))
    return directory.id


async def test_idempotency_key_returns_the_same_job_and_conflicts_on_another_body(
    api: Api,
) -> None:
    directory_id = await _directory_with_a_bad_file(api)
    headers = {"Idempotency-Key": "create-1"}
    first = await api.client.beta.batch.create(
        job_config={}, directory_id=directory_id, extra_headers=headers
    )
    again = await api.client.beta.batch.create(
        job_config={}, directory_id=directory_id, extra_headers=headers
    )
    assert again.id == first.id
    with pytest.raises(llama_cloud.ConflictError) as conflict:
        await api.client.beta.batch.create(
            job_config={}, directory_id=directory_id, page_size=3, extra_headers=headers
        )
    assert "Idempotency-Key" in str(conflict.value.body)
    assert len([j async for j in api.client.beta.batch.list()]) == 1


async def test_retry_endpoint_starts_a_linked_job_over_failed_items(api: Api) -> None:
    directory_id = await _directory_with_a_bad_file(api)
    job = await api.client.beta.batch.create(job_config={}, directory_id=directory_id)
    await api.stack.client.get_workflow_handle(job.workflow_id or "").result()

    async with httpx.AsyncClient(
        base_url=api.base_url, headers={"Authorization": f"Bearer {api.key_a}"}
    ) as http:
        response = await http.post(f"/api/v1/beta/batch-processing/{job.id}/retry")
        assert response.status_code == 200, response.text
        retry = response.json()
        assert retry["retry_of"] == job.id
        assert retry["total_items"] == 1
        await api.stack.client.get_workflow_handle(retry["workflow_id"]).result()

        again = await http.post(f"/api/v1/beta/batch-processing/{retry['id']}/retry")
        assert again.status_code == 200  # the retry's own item failed again
        await api.stack.client.get_workflow_handle(again.json()["workflow_id"]).result()
        other = await http.post(
            f"/api/v1/beta/batch-processing/{job.id}/retry",
            headers={"Authorization": f"Bearer {api.key_b}"},
        )
        assert other.status_code == 404
    items = [i async for i in api.client.beta.batch.job_items.list(retry["id"])]
    assert [i.item_name for i in items] == ["mail.msg"]

"""Error answers of the API: status codes, the offending field, no stack traces."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import llama_cloud
import pytest

from docbatch.api import create_app
from docbatch.store import Store
from tests.api.conftest import Api, serve
from tests.conftest import free_port
from tests.workflows.helpers import write_text_files

RULE = {"type": "memo", "description": "An internal memorandum between colleagues."}


def _body(error: llama_cloud.APIStatusError) -> str:
    return json.dumps(error.body)


async def _directory(api: Api, tmp_path: Path, count: int = 2) -> tuple[str, list[str]]:
    folder = tmp_path / "docs"
    write_text_files(folder, count)
    directory = await api.client.beta.directories.create(name="d")
    ids = []
    for path in sorted(folder.iterdir()):
        with path.open("rb") as handle:
            uploaded = await api.client.beta.directories.files.upload(
                directory.id, upload_file=handle
            )
        ids.append(uploaded.id)
    return directory.id, ids


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"job_config": {}}, "item_ids"),
        ({"job_config": {}, "directory_id": "dir-x", "item_ids": ["a"]}, "item_ids"),
        ({"job_config": {}, "item_ids": []}, "item_ids"),
        ({"job_config": {}, "directory_id": "dir-unknown"}, "directory_id"),
        ({"job_config": {}, "item_ids": ["dfl-unknown"]}, "item_ids"),
        ({"job_config": {"rules": [{"type": "memo", "description": "short"}]},
          "directory_id": "dir-x"}, "job_config.rules.0.description"),
        ({"job_config": {"rules": [{"type": "m" * 51, "description": RULE["description"]}]},
          "directory_id": "dir-x"}, "job_config.rules.0.type"),
        ({"job_config": {"rules": []}, "directory_id": "dir-x"}, "job_config.rules"),
        ({"job_config": {"rules": [RULE], "mode": "SLOW"}, "directory_id": "dir-x"},
         "job_config.mode"),
        ({"job_config": {"parameters": {"parse_mode": "magic"}}, "directory_id": "dir-x"},
         "job_config.parameters.parse_mode"),
        ({"job_config": {"parameters": {"bogus_option": True}}, "directory_id": "dir-x"},
         "job_config.parameters.bogus_option"),
        ({"job_config": {}, "directory_id": "dir-x", "page_size": 0}, "page_size"),
        ({"job_config": {"data_schema": {"type": "object"}}, "directory_id": "dir-x"},
         "job_config"),
        ({"job_config": {"data_schema": {"type": "nonsense"}}, "directory_id": "dir-x"},
         "job_config.data_schema"),
        ({"job_config": {}, "directory_id": "dir-x", "continue_as_new_threshold": -1},
         "continue_as_new_threshold"),
    ],
)  # fmt: skip
async def test_invalid_create_requests_answer_422_naming_the_field(
    api: Api, kwargs: dict[str, Any], field: str
) -> None:
    started = time.monotonic()
    with pytest.raises(llama_cloud.UnprocessableEntityError) as error:
        await api.client.beta.batch.create(**kwargs)
    body = error.value.body
    assert isinstance(body, dict)
    messages = [d["msg"] for d in body["detail"]]
    assert any(m.startswith(f"{field}:") for m in messages), messages
    assert "Traceback" not in _body(error.value)
    assert time.monotonic() - started < 5, "a 4xx must not be retried"
    jobs = [j async for j in api.client.beta.batch.list()]
    assert jobs == []


async def test_bad_enum_and_paging_values_in_queries_answer_422(api: Api) -> None:
    with pytest.raises(llama_cloud.UnprocessableEntityError) as status:
        await api.client.beta.batch.list(status="sleeping")  # type: ignore[arg-type]
    assert "status" in _body(status.value)
    with pytest.raises(llama_cloud.UnprocessableEntityError) as limit:
        await api.client.beta.batch.list(limit=0)
    assert "limit" in _body(limit.value)
    with pytest.raises(llama_cloud.UnprocessableEntityError) as job_type:
        await api.client.beta.batch.list(job_type="summarise")  # type: ignore[arg-type]
    assert "job_type" in _body(job_type.value)


async def test_unknown_ids_answer_404(api: Api) -> None:
    for call in (
        api.client.beta.batch.get_status("bjb-missing"),
        api.client.beta.batch.cancel("bjb-missing"),
        api.client.beta.batch.job_items.list("bjb-missing"),
        api.client.beta.batch.job_items.get_processing_results("dfl-missing"),
        api.client.beta.directories.get("dir-missing"),
        api.client.beta.directories.delete("dir-missing"),
    ):
        with pytest.raises(llama_cloud.NotFoundError) as error:
            await call
        assert "not found" in _body(error.value)


async def test_cancelling_a_finished_job_answers_409_at_once(api: Api, tmp_path: Path) -> None:
    directory_id, _ = await _directory(api, tmp_path)
    job = await api.client.beta.batch.create(job_config={}, directory_id=directory_id)
    handle = api.stack.client.get_workflow_handle(job.workflow_id or "")
    await handle.result()

    started = time.monotonic()
    with pytest.raises(llama_cloud.ConflictError) as error:
        await api.client.beta.batch.cancel(job.id)
    assert "already completed" in _body(error.value)
    assert time.monotonic() - started < 5, "409 must not be retried by the client"


async def test_missing_or_wrong_key_answers_401_json(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        missing = await http.get("/api/v1/beta/batch-processing")
        wrong = await http.get(
            "/api/v1/beta/batch-processing", headers={"Authorization": "Bearer nope"}
        )
    assert missing.status_code == 401
    assert "missing API key" in missing.json()["detail"]
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "invalid or revoked API key"}
    with pytest.raises(llama_cloud.AuthenticationError):
        await api.client_for("dbk_wrong").beta.batch.list()


async def test_secrets_are_redacted_in_every_response(api: Api, tmp_path: Path) -> None:
    directory_id, ids = await _directory(api, tmp_path, count=1)
    config = {
        "parameters": {
            "gpt4o_api_key": "sk-secret-1",
            "vendor_multimodal_api_key": "sk-secret-2",
            "webhook_configurations": [
                {
                    "webhook_url": "https://example.com/hook",
                    "webhook_headers": {"Authorization": "Bearer sk-secret-3"},
                    "webhook_signing_secret": "sk-secret-4",
                }
            ],
        }
    }
    job = await api.client.beta.batch.create(job_config=config, directory_id=directory_id)
    await api.stack.client.get_workflow_handle(job.workflow_id or "").result()

    async with httpx.AsyncClient(
        base_url=api.base_url, headers={"Authorization": f"Bearer {api.key_a}"}
    ) as http:
        bodies = [
            (await http.get(f"/api/v1/beta/batch-processing/{job.id}")).text,
            (await http.get("/api/v1/beta/batch-processing")).text,
            (await http.get(f"/api/v1/beta/batch-processing/{job.id}/items")).text,
            (
                await http.get(f"/api/v1/beta/batch-processing/items/{ids[0]}/processing-results")
            ).text,
        ]
    assert all("sk-secret" not in body for body in bodies)
    results = json.loads(bodies[-1])["processing_results"][0]["job_config"]["parameters"]
    assert results["gpt4o_api_key"] == "***"
    hook = results["webhook_configurations"][0]
    assert hook["webhook_headers"] == {"Authorization": "***"}
    assert hook["webhook_signing_secret"] == "***"
    assert hook["webhook_url"] == "https://example.com/hook"
    # Nor are they in the workflow history: only ids travel there.
    history = await api.stack.client.get_workflow_handle(job.workflow_id or "").fetch_history()
    assert "sk-secret" not in history.to_json()


async def test_temporal_unreachable_on_create_answers_503_and_creates_nothing(
    api: Api, tmp_path: Path
) -> None:
    directory_id, _ = await _directory(api, tmp_path)
    down = api.stack.settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with serve(create_app(down)) as base_url:
        client = llama_cloud.AsyncLlamaCloud(api_key=api.key_a, base_url=base_url, max_retries=0)
        with pytest.raises(llama_cloud.InternalServerError) as error:
            await client.beta.batch.create(job_config={}, directory_id=directory_id)
        assert error.value.status_code == 503
        assert "Temporal is not reachable" in _body(error.value)
        async with httpx.AsyncClient(base_url=base_url) as http:
            health = await http.get("/health")
        assert health.status_code == 503
        assert health.json()["store"] == "ok"
        assert health.json()["temporal"].startswith("unavailable")
    assert [j async for j in api.client.beta.batch.list()] == []


async def test_health_docs_and_openapi(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        health = await http.get("/health")
        docs = await http.get("/docs")
        spec = (await http.get("/openapi.json")).json()
    assert health.json() == {"status": "ok", "store": "ok", "temporal": "ok"}
    assert docs.status_code == 200
    paths = set(spec["paths"])
    assert {
        "/api/v1/beta/batch-processing",
        "/api/v1/beta/batch-processing/{job_id}",
        "/api/v1/beta/batch-processing/{job_id}/cancel",
        "/api/v1/beta/batch-processing/{job_id}/items",
        "/api/v1/beta/batch-processing/items/{item_id}/processing-results",
        "/api/v1/beta/directories",
        "/api/v1/beta/directories/{directory_id}",
        "/api/v1/beta/directories/{directory_id}/files",
        "/api/v1/beta/directories/{directory_id}/files/upload",
        "/api/v1/beta/directories/{directory_id}/files/{directory_file_id}",
    } <= paths


async def test_revoked_key_answers_401(api: Api, tmp_path: Path) -> None:
    store = await Store.open(api.stack.settings.effective_database_url)
    try:
        key = next(k for k in await store.keys.list_api_keys() if k.name == "b")
        await store.keys.revoke_api_key(key.id)
    finally:
        await store.close()
    with pytest.raises(llama_cloud.AuthenticationError):
        await api.other.beta.batch.list()


async def test_unknown_temporal_namespace_answers_422(api: Api, tmp_path: Path) -> None:
    directory_id, _ = await _directory(api, tmp_path)
    with pytest.raises(llama_cloud.UnprocessableEntityError) as error:
        await api.client.beta.batch.create(
            job_config={}, directory_id=directory_id, temporal_namespace="no-such-namespace"
        )
    assert "temporal-namespace" in _body(error.value)
    assert [j async for j in api.client.beta.batch.list()] == []

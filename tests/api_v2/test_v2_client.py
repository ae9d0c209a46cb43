"""``llama-cloud`` 2.19 (``client.batches``, ``client.configurations``, ``client.parsing``)
driving docbatch end to end: configuration → directory → batch → results → parse jobs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import llama_cloud
import pytest

from tests.api.conftest import Api, ApiFactory, upload_folder
from tests.conftest import CORPUS
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import write_text_files

TERMINAL = {"COMPLETED", "FAILED", "CANCELLED"}


async def _wait_terminal(api: Api, batch_id: str, timeout: float = 240) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        batch = await api.client.batches.get(batch_id)
        if batch.status in TERMINAL:
            return batch
        assert loop.time() < deadline, f"batch still {batch.status}"
        await asyncio.sleep(0.2)


async def test_the_client_is_the_current_one() -> None:
    assert llama_cloud.__version__ == "2.19.0"
    assert not hasattr(llama_cloud.AsyncLlamaCloud(api_key="x").beta, "batch")


async def test_parse_the_corpus_with_a_saved_configuration(api: Api) -> None:
    client = api.client
    configuration = await client.configurations.create(
        name="corpus-parse",
        parameters={
            "product_type": "parse_v2",
            "tier": "cost_effective",
            "version": "latest",
            "output_options": {"markdown": {"tables": {"compact_markdown_tables": True}}},
            "processing_options": {"forms": "enrich"},
        },
    )
    assert configuration.id.startswith("cfg-")
    assert configuration.product_type == "parse_v2"
    again = await client.configurations.create(
        name="corpus-parse",
        parameters={"product_type": "parse_v2", "tier": "cost_effective", "version": "latest"},
    )
    assert again.id == configuration.id  # upsert by name + product type + project
    assert again.version > configuration.version
    configuration = await client.configurations.update(
        configuration.id,
        parameters={
            "product_type": "parse_v2",
            "tier": "cost_effective",
            "version": "latest",
            "processing_options": {"forms": "enrich"},
        },
    )
    fetched = await client.configurations.retrieve(configuration.id)
    assert fetched.parameters.processing_options.forms == "enrich"  # type: ignore[union-attr]

    directory = await client.beta.directories.create(name="corpus")
    names = await upload_folder(api, directory.id, CORPUS)
    batch = await client.batches.create(
        config={"job": {"type": "parse_v2", "configuration_id": configuration.id}},
        source_directory_id=directory.id,
    )
    assert batch.id.startswith("bat-")
    assert batch.status in {"PENDING", "RUNNING"}
    assert batch.source_directory_id == directory.id
    assert batch.config.job.configuration_id == configuration.id
    assert batch.results is None

    done = await _wait_terminal(api, batch.id)
    assert done.status == "COMPLETED"
    expanded = await client.batches.get(batch.id, expand=["results"])
    assert expanded.results is not None
    assert sorted(r.source_directory_file_id for r in expanded.results) == sorted(names)
    assert all(r.job_reference and r.job_reference.type == "parse_v2" for r in expanded.results)

    failed = completed = 0
    for result in expanded.results:
        assert result.job_reference is not None
        job = await client.parsing.get(result.job_reference.id, expand=["markdown", "text"])
        assert job.job.id == result.job_reference.id
        assert job.job.name == names[result.source_directory_file_id]
        if job.job.status == "FAILED":
            failed += 1
            assert job.job.error_message
            assert job.markdown is None
            continue
        completed += 1
        assert job.job.status == "COMPLETED"
        assert job.markdown is not None
        assert job.text is not None
        assert job.markdown.pages and all(p.page_number >= 1 for p in job.markdown.pages)
        assert job.markdown_full is not None
    assert completed >= 40
    assert failed >= 2  # empty.xlsx, example.jpg (no text) fail their own item only

    memo = next(r for r in expanded.results if names[r.source_directory_file_id] == "fake-memo.pdf")
    assert memo.job_reference is not None
    detail = await client.parsing.get(memo.job_reference.id, expand=["markdown", "job_metadata"])
    assert detail.markdown_full and "3 trucks" in detail.markdown_full
    assert detail.job_metadata is not None
    assert "processing_options.forms" in detail.job_metadata["not_applied"]  # type: ignore[operator]

    # The parse jobs list, filtered and paged as the client pages by itself.
    listed = [j async for j in client.parsing.list(page_size=7)]
    assert sorted(j.id for j in listed) == sorted(
        r.job_reference.id for r in expanded.results if r.job_reference
    )
    only_failed = [j async for j in client.parsing.list(status="FAILED")]
    assert len(only_failed) == failed
    picked = [j async for j in client.parsing.list(job_ids=[memo.job_reference.id])]
    assert [j.id for j in picked] == [memo.job_reference.id]

    # The same job through the beta API (one core, two generations).
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        beta = await http.get(
            f"/api/v1/beta/batch-processing/{batch.id}",
            headers={"Authorization": f"Bearer {api.key_a}"},
        )
    assert beta.status_code == 200
    assert beta.json()["job"]["total_items"] == len(names)
    assert beta.json()["job"]["job_type"] == "parse"


async def test_preset_list_filters_and_paging(api: Api, tmp_path: Path) -> None:
    client = api.client
    write_text_files(tmp_path / "a", 3)
    write_text_files(tmp_path / "b", 2)
    first = await client.beta.directories.create(name="a", connector_subscription_id="sub-1")
    assert first.connector_subscription_id == "sub-1"
    assert (await client.beta.directories.get(first.id)).connector_subscription_id == "sub-1"
    second = await client.beta.directories.create(name="b")
    await upload_folder(api, first.id, tmp_path / "a")
    await upload_folder(api, second.id, tmp_path / "b")
    before = datetime.now(UTC) - timedelta(seconds=1)
    one = await client.batches.create(
        config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_AGENTIC"}},
        source_directory_id=first.id,
    )
    two = await client.batches.create(
        config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
        source_directory_id=second.id,
    )
    await _wait_terminal(api, one.id)
    await _wait_terminal(api, two.id)

    every = [b.id async for b in client.batches.list(page_size=1)]
    assert every == [two.id, one.id]  # newest first, one per page
    assert [b.id async for b in client.batches.list(source_directory_id=first.id)] == [one.id]
    assert {b.id async for b in client.batches.list(status="COMPLETED")} == {one.id, two.id}
    assert [b.id async for b in client.batches.list(status="RUNNING")] == []
    after = [b.id async for b in client.batches.list(created_at_on_or_after=before)]
    assert set(after) == {one.id, two.id}
    assert [b.id async for b in client.batches.list(created_at_on_or_before=before)] == []

    fast = await client.batches.get(two.id, expand=["results"])
    assert fast.results and len(fast.results) == 2
    reference = fast.results[0].job_reference
    assert reference is not None
    job = await client.parsing.get(reference.id, expand=["text"])
    assert job.job.tier == "fast"
    assert job.text_full and "Document" in job.text_full


async def test_cancel_a_running_batch(make_api: ApiFactory, tmp_path: Path) -> None:
    write_text_files(tmp_path / "docs", 40)
    async with make_api(engine=slow_engine, max_concurrent_children=3) as api:
        client = api.client
        directory = await client.beta.directories.create(name="slow")
        await upload_folder(api, directory.id, tmp_path / "docs")
        batch = await client.batches.create(
            config={"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_COST_EFFECTIVE"}},
            source_directory_id=directory.id,
        )
        for _ in range(300):
            if (await client.batches.get(batch.id)).status == "RUNNING":
                break
            await asyncio.sleep(0.1)
        cancelled = await client.batches.cancel(batch.id)
        assert cancelled.id == batch.id
        final = await _wait_terminal(api, batch.id)
        assert final.status == "CANCELLED"
        with pytest.raises(llama_cloud.ConflictError):
            await client.batches.cancel(batch.id)
        expanded = await client.batches.get(batch.id, expand=["results"])
        assert expanded.results is not None
        statuses = []
        for result in expanded.results:
            assert result.job_reference is not None
            statuses.append((await client.parsing.get(result.job_reference.id)).job.status)
        assert "CANCELLED" in statuses
        assert set(statuses) <= {"COMPLETED", "CANCELLED"}


async def test_another_project_sees_none_of_it(api: Api, tmp_path: Path) -> None:
    write_text_files(tmp_path / "docs", 2)
    configuration = await api.client.configurations.create(
        name="private",
        parameters={"product_type": "parse_v2", "tier": "fast", "version": "latest"},
    )
    directory = await api.client.beta.directories.create(name="private")
    await upload_folder(api, directory.id, tmp_path / "docs")
    batch = await api.client.batches.create(
        config={"job": {"type": "parse_v2", "configuration_id": configuration.id}},
        source_directory_id=directory.id,
    )
    await _wait_terminal(api, batch.id)
    expanded = await api.client.batches.get(batch.id, expand=["results"])
    assert expanded.results and expanded.results[0].job_reference
    parse_id = expanded.results[0].job_reference.id

    other = api.other
    for call in (
        other.batches.get(batch.id),
        other.batches.cancel(batch.id),
        other.parsing.get(parse_id),
        other.configurations.retrieve(configuration.id),
        other.configurations.delete(configuration.id),
    ):
        with pytest.raises(llama_cloud.NotFoundError):
            await call
    assert [b async for b in other.batches.list()] == []
    assert [j async for j in other.parsing.list()] == []
    assert [c async for c in other.configurations.list()] == []
    with pytest.raises(llama_cloud.UnprocessableEntityError) as foreign:
        await other.batches.create(
            config={"job": {"type": "parse_v2", "configuration_id": configuration.id}},
            source_directory_id=directory.id,
        )
    assert "config.job.configuration_id" in json.dumps(foreign.value.body)

    await api.client.configurations.delete(configuration.id)
    with pytest.raises(llama_cloud.NotFoundError):
        await api.client.configurations.retrieve(configuration.id)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source_directory_id": "dir-x"}, "config"),
        ({"config": {"job": {"type": "parse_v2"}}, "source_directory_id": "d"}, "configuration_id"),
        ({"config": {"job": {"type": "ocr_v9", "configuration_id": "cfg-PARSE_FAST"}},
          "source_directory_id": "d"}, "type"),
        ({"config": {"job": {"type": "split_v1", "configuration_id": "cfg-x"}},
          "source_directory_id": "d"}, "config.job.type"),
        ({"config": {"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
          "source_directory_id": "dir-missing"}, "source_directory_id"),
        ({"config": {"job": {"type": "extract_v2", "configuration_id": "cfg-PARSE_FAST"}},
          "source_directory_id": "d"}, "config.job.configuration_id"),
        ({"config": {"job": {"type": "parse_v2", "configuration_id": "cfg-PARSE_FAST"}},
          "source_directory_id": "d", "surprise": 1}, "surprise"),
        ({"config": None, "source_directory_id": "d"}, "config"),
    ],
)  # fmt: skip
async def test_invalid_batch_bodies_answer_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        response = await http.post(
            "/api/v2/batches", json=body, headers={"Authorization": f"Bearer {api.key_a}"}
        )
    assert response.status_code == 422, response.text
    assert field in json.dumps(response.json()["detail"])


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"tier": "fast", "version": "latest"}, "product_type"),
        ({"product_type": "parse_v3", "tier": "fast", "version": "latest"}, "product_type"),
        ({"product_type": "parse_v2", "version": "latest"}, "tier"),
        ({"product_type": "parse_v2", "tier": "turbo", "version": "latest"}, "tier"),
        ({"product_type": "parse_v2", "tier": "fast", "version": "latest",
          "page_ranges": {"target_pages": "0-2"}}, "page_ranges.target_pages"),
        ({"product_type": "parse_v2", "tier": "fast", "version": "latest",
          "processing_options": {"ocr_parameters": {"languages": ["klingon"]}}}, "languages"),
        ({"product_type": "parse_v2", "tier": "fast", "version": "latest", "bogus": True},
         "bogus"),
        ({"product_type": "extract_v2", "data_schema": {"type": 7}}, "data_schema"),
        ({"product_type": "classify_v2", "rules": []}, "rules"),
    ],
)  # fmt: skip
async def test_invalid_configurations_answer_422_naming_the_field(
    api: Api, parameters: dict[str, Any], field: str
) -> None:
    with pytest.raises(llama_cloud.UnprocessableEntityError) as refused:
        await api.client.configurations.create(name="bad", parameters=parameters)  # type: ignore[arg-type]
    assert field in json.dumps(refused.value.body)


async def test_stored_products_are_kept_and_refused_at_batch_time(api: Api, tmp_path: Path) -> None:
    split = await api.client.configurations.create(
        name="splitter",
        parameters={"product_type": "split_v1", "categories": [{"name": "invoice"}]},
    )
    listed = [c async for c in api.client.configurations.list(product_type=["split_v1"])]
    assert [c.id for c in listed] == [split.id]
    assert [c async for c in api.client.configurations.list(product_type=["extract_v2"])] == []
    write_text_files(tmp_path / "docs", 1)
    directory = await api.client.beta.directories.create(name="one")
    await upload_folder(api, directory.id, tmp_path / "docs")
    with pytest.raises(llama_cloud.UnprocessableEntityError) as refused:
        await api.client.batches.create(
            config={"job": {"type": "split_v1", "configuration_id": split.id}},  # type: ignore[typeddict-item]
            source_directory_id=directory.id,
        )
    assert "not run by docbatch" in json.dumps(refused.value.body)

"""Where outputs go and how long an item may take: S3 destinations, deterministic keys,
and the reference's job timeouts enforced per document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from docbatch import service
from docbatch.models import ItemStatus, JobStatus
from tests.conftest import CORPUS, StackFactory, free_port
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import run_folder_job, write_text_files


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local S3 server (moto) standing in for AWS, which tests must not call."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="outputs")
    try:
        yield endpoint
    finally:
        server.stop()


async def test_outputs_go_to_the_s3_prefix_of_the_job(
    make_stack: StackFactory, s3_endpoint: str, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    async with make_stack(s3_endpoint_url=s3_endpoint) as stack:
        config = {"parameters": {"output_s3_path_prefix": "s3://outputs/batch-a"}}
        status = await run_folder_job(stack, folder, config)
        items, _ = await service.list_items(stack.store, status.job.id)
        locations = []
        for item in items:
            result = (await service.get_results(stack.store, item.item_id)).processing_results
            assert result
            locations.append(result[0].output_s3_path)
            document = json.loads(await stack.blobs.read_text(result[0].output_s3_path))
            assert "Document" in document["markdown"]

    assert status.job.status == JobStatus.COMPLETED
    assert all(loc.startswith("s3://outputs/batch-a/results/") for loc in locations)
    keys = {
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
            Bucket="outputs", Prefix="batch-a/"
        )["Contents"]
    }
    assert len(keys) == 3


async def test_deployment_setting_sends_outputs_to_s3(
    make_stack: StackFactory, s3_endpoint: str, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    async with make_stack(
        s3_endpoint_url=s3_endpoint, output_s3_prefix="s3://outputs/deployment"
    ) as stack:
        status = await run_folder_job(stack, folder)
        items, _ = await service.list_items(stack.store, status.job.id)
        result = (await service.get_results(stack.store, items[0].item_id)).processing_results
    assert result
    assert result[0].output_s3_path.startswith("s3://outputs/deployment/results/")


async def test_output_keys_are_deterministic_per_item_content_and_parameters(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 1)
    async with make_stack() as stack:
        first = await run_folder_job(stack, folder, {"parameters": {"invalidate_cache": True}})
        again = await run_folder_job(stack, folder, {"parameters": {"invalidate_cache": True}})
        other = await run_folder_job(stack, folder, {"parameters": {"page_prefix": "> "}})
        locations = []
        for job in (first, again, other):
            items, _ = await service.list_items(stack.store, job.job.id)
            row = await stack.store.items.get_result(items[0].job_record_id or "")
            locations.append(row.output_location)
    assert locations[0] == locations[1]  # same item, content and parameters: overwritten
    assert locations[2] != locations[0]


async def test_job_timeout_fails_the_item_with_a_readable_message(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    async with make_stack(engine=slow_engine) as stack:
        status = await run_folder_job(
            stack, folder, {"parameters": {"job_timeout_in_seconds": 0.1}}
        )
        items, _ = await service.list_items(stack.store, status.job.id)
    assert status.job.status == JobStatus.FAILED
    assert {i.status for i in items} == {ItemStatus.FAILED}
    assert all("timed out after 0.1s" in (i.error_message or "") for i in items)


async def test_extra_time_per_page_extends_the_limit(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "memo.pdf").write_bytes((CORPUS / "fake-memo.pdf").read_bytes())
    config = {
        "parameters": {
            "job_timeout_in_seconds": 0.1,
            "job_timeout_extra_time_per_page_in_seconds": 30,
        }
    }
    async with make_stack(engine=slow_engine) as stack:
        status = await run_folder_job(stack, folder, config)
    assert status.job.status == JobStatus.COMPLETED

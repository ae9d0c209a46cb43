"""Operations users asked for: idempotent create and retrying only the failed items."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from docbatch import service
from docbatch.errors import ConflictError
from docbatch.models import BatchCreateRequest, ItemStatus, JobStatus
from docbatch.store.tables import JobRow
from tests.conftest import CORPUS, Stack
from tests.workflows.helpers import wait_job, write_text_files


async def _directory(stack: Stack, folder: Path) -> str:
    registered = await service.register_local_folder(
        stack.store, folder, project_id=stack.settings.project_id
    )
    return registered.directory.id


async def _create(stack: Stack, body: dict[str, object], key: str | None) -> JobRow:
    return await service.create_job(
        stack.store,
        stack.client,
        stack.settings,
        BatchCreateRequest.model_validate(body),
        project_id=stack.settings.project_id,
        idempotency_key=key,
    )


async def test_same_idempotency_key_and_body_return_the_same_job(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    body = {"job_config": {}, "directory_id": await _directory(stack, folder)}

    first = await _create(stack, body, "key-1")
    again = await _create(stack, body, "key-1")
    concurrent = await asyncio.gather(*(_create(stack, body, "key-2") for _ in range(4)))

    assert again.id == first.id
    assert len({job.id for job in concurrent}) == 1
    _, total = await service.list_jobs(stack.store)
    assert total == 2
    await wait_job(stack, first)
    with pytest.raises(ConflictError, match="different request body"):
        await _create(stack, {**body, "page_size": 7}, "key-1")


async def test_retry_runs_only_the_failed_items_in_a_linked_job(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    shutil.copy(CORPUS / "fake.doc", folder / "mail.msg")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not a real archive")
    body = {"job_config": {}, "directory_id": await _directory(stack, folder)}
    original = await _create(stack, body, None)
    done = await wait_job(stack, original)
    assert done.job.failed_items == 2

    retry = await service.retry_failed_items(
        stack.store, stack.client, stack.settings, original.id,
        project_id=stack.settings.project_id,
    )  # fmt: skip
    retried = await wait_job(stack, retry)

    assert retried.job.retry_of == original.id
    assert retried.job.total_items == 2
    items, _ = await service.list_items(stack.store, retry.id)
    assert {i.item_name for i in items} == {"mail.msg", "broken.docx"}
    assert {i.status for i in items} == {ItemStatus.FAILED}
    assert retried.job.status == JobStatus.FAILED


async def test_retry_is_rejected_without_failed_items_or_while_running(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    body = {"job_config": {}, "directory_id": await _directory(stack, folder)}
    job = await _create(stack, body, None)
    with pytest.raises(ConflictError, match="retry once it has ended"):
        await service.retry_failed_items(
            stack.store, stack.client, stack.settings, job.id,
            project_id=stack.settings.project_id,
        )  # fmt: skip
    await wait_job(stack, job)
    with pytest.raises(ConflictError, match="no failed items"):
        await service.retry_failed_items(
            stack.store, stack.client, stack.settings, job.id,
            project_id=stack.settings.project_id,
        )  # fmt: skip

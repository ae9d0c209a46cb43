"""End-to-end batch behaviour on a real Temporal dev server, SQLite store and real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from docbatch import service, views
from docbatch.errors import ConfigError, JobTerminalError
from docbatch.messages import CancelRequest
from docbatch.models import ItemStatus, JobItem, JobStatus, SkipReason
from tests.conftest import CORPUS, Stack, StackFactory
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import (
    children_started,
    parent_histories,
    run_folder_job,
    start_folder_job,
    start_job,
    wait_job,
    wait_until,
    write_text_files,
)
from workflows.batch_parent import BatchParentWorkflow


async def _all_items(stack: Stack, job_id: str) -> list[JobItem]:
    items, total = await service.list_items(stack.store, job_id, limit=100_000)
    assert len(items) == total
    return items


async def test_corpus_parse_batch_completes_and_fails_only_bad_files(stack: Stack) -> None:
    status = await run_folder_job(stack, CORPUS)

    job = status.job
    assert job.status == JobStatus.COMPLETED
    assert status.progress_percentage == 100
    items = await _all_items(stack, job.id)
    corpus_files = sorted(p.name for p in CORPUS.iterdir() if p.is_file())
    assert sorted(i.item_name for i in items) == corpus_files
    assert job.total_items == len(corpus_files)
    assert all(item.status.is_terminal for item in items)
    by_status = {s: [i for i in items if i.status == s] for s in ItemStatus}
    assert (
        len(by_status[ItemStatus.COMPLETED])
        + len(by_status[ItemStatus.FAILED])
        + len(by_status[ItemStatus.SKIPPED])
        == job.total_items
    )
    assert job.failed_items == len(by_status[ItemStatus.FAILED])
    assert job.processed_items == job.failed_items + len(by_status[ItemStatus.COMPLETED])

    failed = {i.item_name: i.error_message or "" for i in by_status[ItemStatus.FAILED]}
    assert "empty.xlsx" in failed
    assert "empty document" in failed["empty.xlsx"]
    for name, message in failed.items():
        assert message, f"{name} failed without a message"
        assert "Traceback" not in message and len(message) <= 1000, name

    # Every completed item has exactly one result, whose output is real markdown.
    for item in by_status[ItemStatus.COMPLETED]:
        results = (await service.get_results(stack.store, item.item_id)).processing_results
        assert results is not None and len(results) == 1, item.item_name
        output = await stack.blobs.read_text(results[0].output_s3_path)
        assert output.strip(), item.item_name


async def test_item_ids_mode_processes_exactly_those_items(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 8)
    registered = await service.register_local_folder(
        stack.store, folder, project_id=stack.settings.project_id
    )
    files = await stack.store.directories.list_files(registered.directory.id)
    chosen = [files[1].id, files[4].id, files[6].id]

    job = await start_job(stack, {"job_config": {}, "item_ids": chosen})
    status = await wait_job(stack, job)

    assert status.job.status == JobStatus.COMPLETED
    assert status.job.total_items == 3
    items = await _all_items(stack, job.id)
    assert [i.item_id for i in items] == chosen
    assert all(i.status == ItemStatus.COMPLETED for i in items)
    for file in files:
        results = (await service.get_results(stack.store, file.id)).processing_results or []
        assert len(results) == (1 if file.id in chosen else 0)


async def test_continue_as_new_chains_runs_and_processes_each_item_once(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 50)

    job = await start_folder_job(stack, folder, page_size=5)
    status = await wait_job(stack, job)

    assert status.job.status == JobStatus.COMPLETED
    assert status.job.total_items == 50
    assert status.job.processed_items == 50
    histories = await parent_histories(stack, job.workflow_id)
    assert len(histories) >= 10
    assert sum(children_started(h) for h in histories) == 50
    items = await _all_items(stack, job.id)
    assert len({i.item_id for i in items}) == 50
    for item in items:
        results = (await service.get_results(stack.store, item.item_id)).processing_results
        assert results is not None and len(results) == 1


async def test_rerun_with_same_config_skips_everything_without_children(
    stack: Stack, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 12)
    first = await run_folder_job(stack, folder, page_size=5)
    assert first.job.processed_items == 12

    job = await start_folder_job(stack, folder, page_size=5)
    second = await wait_job(stack, job)

    assert second.job.status == JobStatus.COMPLETED
    assert second.job.skipped_items == 12
    assert second.job.processed_items == 0
    items = await _all_items(stack, job.id)
    assert {i.skip_reason for i in items} == {SkipReason.ALREADY_PROCESSED}
    assert all(i.job_record_id for i in items)  # points at the earlier result
    histories = await parent_histories(stack, job.workflow_id)
    assert sum(children_started(h) for h in histories) == 0


async def test_changing_an_output_parameter_reprocesses(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 4)
    await run_folder_job(stack, folder)

    again = await run_folder_job(stack, folder, {"parameters": {"page_separator": "\n---\n"}})
    assert again.job.processed_items == 4
    assert again.job.skipped_items == 0

    # Webhook settings do not change the output: still skipped.
    webhook = {"parameters": {"page_separator": "\n---\n", "webhook_url": "https://example.com"}}
    same = await run_folder_job(stack, folder, webhook)
    assert same.job.skipped_items == 4


async def test_changing_a_file_reprocesses_only_that_file(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    paths = write_text_files(folder, 5)
    await run_folder_job(stack, folder)

    paths[2].write_text("Completely new content for this document.\n")
    status = await run_folder_job(stack, folder)

    assert status.job.processed_items == 1
    assert status.job.skipped_items == 4
    items = await _all_items(stack, status.job.id)
    processed = [i.item_name for i in items if i.status == ItemStatus.COMPLETED]
    assert processed == [paths[2].name]


async def test_invalidate_cache_forces_reprocessing(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    await run_folder_job(stack, folder)

    status = await run_folder_job(stack, folder, {"parameters": {"invalidate_cache": True}})

    assert status.job.processed_items == 3
    assert status.job.skipped_items == 0


async def test_files_over_the_size_limit_are_skipped(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    (folder / "big.txt").write_text("large document " * 100)

    async with make_stack(max_file_size_bytes=500) as stack:
        status = await run_folder_job(stack, folder)
        items = {i.item_name: i for i in await _all_items(stack, status.job.id)}

    assert status.job.status == JobStatus.COMPLETED
    assert items["big.txt"].status == ItemStatus.SKIPPED
    assert items["big.txt"].skip_reason == SkipReason.SIZE_LIMIT_EXCEEDED
    assert status.job.processed_items == 2


async def _assert_cancelled_cleanly(stack: Stack, job_id: str) -> None:
    status = await service.get_status(stack.store, job_id)
    assert status.job.status == JobStatus.CANCELLED
    items = await _all_items(stack, job_id)
    assert len(items) == status.job.total_items
    assert all(i.status.is_terminal for i in items), [i.status for i in items]
    cancelled = [i for i in items if i.status == ItemStatus.CANCELLED]
    completed = [i for i in items if i.status == ItemStatus.COMPLETED]
    assert cancelled, "nothing was left to cancel: the test did not cancel mid-batch"
    assert completed, "nothing finished before cancelling"
    counts = views.job_counts(await stack.store.jobs.get_job(job_id))
    assert counts.cancelled == len(cancelled)
    assert counts.completed == len(completed)
    for item in completed:  # finished outputs are kept
        results = (await service.get_results(stack.store, item.item_id)).processing_results
        assert results
        assert (await stack.blobs.read_text(results[0].output_s3_path)).strip()


async def _wait_for_completions(stack: Stack, job_id: str, count: int) -> None:
    async def enough() -> bool:
        job = await stack.store.jobs.get_job(job_id)
        return job.completed_items >= count

    await wait_until(enough)


async def test_cancel_by_signal_stops_dispatch_and_cancels_in_flight(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 30)
    async with make_stack(engine=slow_engine, max_concurrent_children=3) as stack:
        job = await start_folder_job(stack, folder)
        await _wait_for_completions(stack, job.id, 3)

        handle = stack.client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
        await handle.signal(BatchParentWorkflow.cancel, CancelRequest(reason="test"))
        await wait_job(stack, job)

        await _assert_cancelled_cleanly(stack, job.id)
        histories = await parent_histories(stack, job.workflow_id)
        events = [e for h in histories for e in h.events]
        signalled = next(
            i
            for i, e in enumerate(events)
            if e.HasField("workflow_execution_signaled_event_attributes")
        )
        assert not any(
            e.HasField("start_child_workflow_execution_initiated_event_attributes")
            for e in events[signalled + 1 :]
        ), "a child was started after the cancel signal"
        assert (await stack.store.jobs.get_job(job.id)).cancel_reason == "test"


async def test_cancel_by_update_returns_processed_count(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 30)
    async with make_stack(engine=slow_engine, max_concurrent_children=3) as stack:
        job = await start_folder_job(stack, folder)
        await _wait_for_completions(stack, job.id, 2)

        response = await service.cancel_job(stack.store, stack.client, job.id, reason="enough")

        assert response.status == JobStatus.CANCELLED
        row = await stack.store.jobs.get_job(job.id)
        assert response.processed_items == row.completed_items + row.failed_items
        await _assert_cancelled_cleanly(stack, job.id)


async def test_cancelling_a_finished_job_is_rejected(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 2)
    status = await run_folder_job(stack, folder)

    with pytest.raises(JobTerminalError, match="already completed"):
        await service.cancel_job(stack.store, stack.client, status.job.id)


async def test_progress_query_matches_the_store(make_stack: StackFactory, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 12)
    async with make_stack(engine=slow_engine, max_concurrent_children=2) as stack:
        job = await start_folder_job(stack, folder, page_size=4)
        handle = stack.client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
        await _wait_for_completions(stack, job.id, 2)

        live = await handle.query(BatchParentWorkflow.progress)
        assert live.total == 12
        # The workflow learns of a child's end a moment after the store records it, so
        # mid-run it may trail the store, never lead it.
        row = await stack.store.jobs.get_job(job.id)
        assert live.completed <= row.completed_items + row.failed_items
        assert 0 <= live.percentage <= 100

        status = await wait_job(stack, job)
        final = await handle.query(BatchParentWorkflow.progress)

    counts = views.job_counts(await stack.store.jobs.get_job(job.id))
    assert final.status == status.job.status == JobStatus.COMPLETED
    assert (final.total, final.completed, final.failed, final.skipped, final.cancelled) == (
        counts.total,
        counts.completed,
        counts.failed,
        counts.skipped,
        counts.cancelled,
    )
    assert final.percentage == status.progress_percentage == 100


async def test_unknown_directory_and_items_are_rejected(stack: Stack) -> None:
    with pytest.raises(ConfigError) as unknown_dir:
        await start_job(stack, {"job_config": {}, "directory_id": "dir-nope"})
    assert unknown_dir.value.field == "directory_id"

    with pytest.raises(ConfigError) as unknown_items:
        await start_job(stack, {"job_config": {}, "item_ids": ["dfl-nope"]})
    assert unknown_items.value.field == "item_ids"
    jobs, total = await service.list_jobs(stack.store)
    assert total == 0 and jobs == []


async def test_a_failing_document_does_not_stop_the_batch(stack: Stack, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 3)
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    shutil.copy(CORPUS / "fake.doc", folder / "mail.msg")

    status = await run_folder_job(stack, folder)

    assert status.job.status == JobStatus.COMPLETED
    items = {i.item_name: i for i in await _all_items(stack, status.job.id)}
    assert items["broken.docx"].status == ItemStatus.FAILED
    assert items["mail.msg"].status == ItemStatus.FAILED
    assert "unsupported format .msg" in (items["mail.msg"].error_message or "")
    assert status.job.failed_items == 2
    assert status.job.processed_items == 5

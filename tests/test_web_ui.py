"""The Temporal Web UI as users see it: a batch found by its search attributes.

The embedded stack runs as ``starter.py run --embedded`` runs it (dev server with the UI,
in-process worker); one batch over ``samples/`` (where ``empty.xlsx`` fails) is looked at in
headless Chromium. Screenshots land in each test's ``tmp_path`` and in
``test-output/web-ui/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Page
from temporalio.client import Client

import worker as worker_module
from docbatch import service
from docbatch.ids import item_workflow_id
from docbatch.models import BatchCreateRequest, ItemStatus, JobStatus
from docbatch.settings import Settings
from docbatch.stack import embedded_stack, temporal_server
from docbatch.store import Store
from docbatch.store.tables import JobRow
from docbatch.temporal import ensure_search_attributes
from tests.conftest import SAMPLES, free_port
from tests.databases import fresh_postgres_database
from tests.engine_doubles import slow_engine
from tests.faults.harness import eventually
from tests.web_ui import (
    chromium_page,
    is_visible_within,
    reload_until_visible,
    save_screenshot,
    workflow_history_url,
    workflows_url,
)
from tests.workflows.helpers import (
    failed_workflow_tasks,
    parent_histories,
    replay,
    write_text_files,
)
from workflows.batch_parent import BatchParentWorkflow

pytestmark = pytest.mark.slow

JOB_TIMEOUT_SECONDS = 180
VISIBILITY_TIMEOUT_SECONDS = 30
WORKFLOW_ROW = '[data-testid="workflows-summary-configurable-table-row"]'
"""A row of the UI's workflow table (the hook Temporal's own UI tests use)."""


@dataclass(frozen=True)
class FinishedBatch:
    """A batch over ``samples/`` that has ended, and where to see it."""

    ui: str
    namespace: str
    job_id: str
    workflow_id: str
    run_id: str
    failed_item_workflow_ids: list[str]


def _stack_settings(data_dir: Path, database_url: str | None) -> Settings:
    """Settings for an embedded stack of its own: free ports, one engine process."""
    settings = Settings(
        data_dir=data_dir,
        temporal_address=f"127.0.0.1:{free_port()}",
        dev_ui_port=free_port(),
        engine_processes=1,
    )
    if database_url is None:
        return settings
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture(scope="module")
async def finished_batch(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FinishedBatch]:
    """The embedded stack with its Web UI on free ports, after one batch over samples/.

    The store is a SQLite file, or a fresh Postgres database in CI's Postgres pass.
    """
    async with fresh_postgres_database() as database_url:
        settings = _stack_settings(tmp_path_factory.mktemp("web-ui"), database_url)
        async with embedded_stack(settings, ui=True) as client:
            store = await Store.open(settings.effective_database_url)
            try:
                registered = await service.register_local_folder(
                    store, SAMPLES, project_id=settings.project_id
                )
                request = BatchCreateRequest.model_validate(
                    {"job_config": {}, "directory_id": registered.directory.id}
                )
                job = await service.create_job(
                    store, client, settings, request, project_id=settings.project_id
                )
                handle = client.get_workflow_handle(job.workflow_id)
                await asyncio.wait_for(handle.result(), JOB_TIMEOUT_SECONDS)
                ended = await store.jobs.get_job(job.id)
                assert ended.status == JobStatus.COMPLETED.value, ended.status
                failed = await store.items.item_ids_with_status(job.id, ItemStatus.FAILED)
                assert len(failed) == 1, f"expected only empty.xlsx to fail, got {failed}"
                yield FinishedBatch(
                    ui=f"http://127.0.0.1:{settings.dev_ui_port}",
                    namespace=client.namespace,
                    job_id=job.id,
                    workflow_id=job.workflow_id,
                    run_id=(await handle.describe()).run_id,
                    failed_item_workflow_ids=[item_workflow_id(job.id, i) for i in failed],
                )
            finally:
                await store.close()
    # The stack stopped with the context: nothing listens on the UI port any more.
    with contextlib.suppress(OSError):
        _, writer = await asyncio.open_connection("127.0.0.1", settings.dev_ui_port)
        writer.close()
        pytest.fail(f"the Web UI still answers on {settings.dev_ui_port} after the stack stopped")


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Page]:
    """A page of headless system Chromium (1600×1000), closed with all its processes after."""
    async with chromium_page(tmp_path / "chromium-profile") as opened:
        yield opened


async def test_parent_workflow_is_listed_by_its_job_id(
    finished_batch: FinishedBatch, page: Page, tmp_path: Path
) -> None:
    url = workflows_url(
        finished_batch.ui, finished_batch.namespace, f'DocbatchJobId="{finished_batch.job_id}"'
    )
    parent = page.get_by_role("link", name=finished_batch.workflow_id, exact=True)
    listed = await reload_until_visible(page, url, parent, VISIBILITY_TIMEOUT_SECONDS)
    shot = await save_screenshot(page, tmp_path, "workflows-by-job-id")
    assert listed, f"{finished_batch.workflow_id} is not listed at {url} (see {shot})"


async def test_parent_workflow_page_shows_its_history(
    finished_batch: FinishedBatch, page: Page, tmp_path: Path
) -> None:
    url = workflow_history_url(
        finished_batch.ui,
        finished_batch.namespace,
        finished_batch.workflow_id,
        finished_batch.run_id,
    )
    await page.goto(url, wait_until="domcontentloaded")
    title = page.get_by_role("heading", level=1)
    # The event type's icon title ("Workflow") is part of the cell's text; a child's
    # completion reads "Child Workflow Execution Completed".
    last_event = page.get_by_text(re.compile(r"(?<!Child )Workflow Execution Completed$"))
    shown = await is_visible_within(last_event, VISIBILITY_TIMEOUT_SECONDS)
    shot = await save_screenshot(page, tmp_path, "parent-workflow-history")
    assert shown, f"no completed event in the history at {url} (see {shot})"
    assert (await title.inner_text()).strip() == finished_batch.workflow_id


async def test_failed_items_of_a_job_are_found_by_status(
    finished_batch: FinishedBatch, page: Page, tmp_path: Path
) -> None:
    query = f'DocbatchJobId="{finished_batch.job_id}" AND DocbatchStatus="failed"'
    url = workflows_url(finished_batch.ui, finished_batch.namespace, query)
    (failed_id,) = finished_batch.failed_item_workflow_ids
    failed_item = page.get_by_role("link", name=failed_id, exact=True)
    listed = await reload_until_visible(page, url, failed_item, VISIBILITY_TIMEOUT_SECONDS)
    shot = await save_screenshot(page, tmp_path, "failed-items-of-job")
    assert listed, (
        f"the failed item {failed_id} is not listed for {query} (see {shot}): item "
        "workflows must carry DocbatchJobId and upsert DocbatchStatus when they end"
    )
    rows = page.locator(WORKFLOW_ROW)
    assert await rows.count() == 1, await rows.all_inner_texts()


async def test_failed_item_history_names_its_file(
    finished_batch: FinishedBatch, page: Page, tmp_path: Path
) -> None:
    (failed_id,) = finished_batch.failed_item_workflow_ids
    # Without a run id the UI opens the latest run, as a link from the list does.
    url = f"{finished_batch.ui}/namespaces/{finished_batch.namespace}/workflows/{failed_id}"
    await page.goto(url, wait_until="domcontentloaded")
    await page.get_by_role("tab", name="Event History").click()
    workflow_summary = page.get_by_text("parse empty.xlsx", exact=True)
    # "empty.xlsx", or "empty.xlsx (quick attempt)" for the local activity of the quick path.
    activity_summary = page.get_by_text(re.compile(r"^empty\.xlsx\b"))
    shown = await is_visible_within(workflow_summary, VISIBILITY_TIMEOUT_SECONDS)
    shown_activity = shown and await is_visible_within(activity_summary, 5)
    shot = await save_screenshot(page, tmp_path, "failed-item-history")
    assert shown, f"the item's start event has no summary 'parse empty.xlsx' (see {shot})"
    assert shown_activity, f"no activity summary names empty.xlsx (see {shot})"


# ------------------------------------------------------ job control from the UI


@contextlib.asynccontextmanager
async def _running_job(data_dir: Path, database_url: str | None) -> AsyncIterator[_RunningJob]:
    """The dev server with its UI and a worker whose engine is slow, and a job running."""
    settings = _stack_settings(data_dir, database_url).model_copy(
        update={"max_concurrent_children": 2}
    )
    async with temporal_server(settings, ui=True) as client:
        await ensure_search_attributes(client)
        async with worker_module.worker_resources(settings) as resources:
            worker = worker_module.build_worker(client, settings, resources, engine=slow_engine)
            async with worker:
                folder = data_dir / "docs"
                write_text_files(folder, 60)
                registered = await service.register_local_folder(
                    resources.store, folder, project_id=settings.project_id
                )
                request = BatchCreateRequest.model_validate(
                    {"job_config": {}, "directory_id": registered.directory.id}
                )
                job = await service.create_job(
                    resources.store, client, settings, request, project_id=settings.project_id
                )
                yield _RunningJob(
                    ui=f"http://127.0.0.1:{settings.dev_ui_port}",
                    client=client,
                    store=resources.store,
                    job_id=job.id,
                    workflow_id=job.workflow_id,
                )


@dataclass(frozen=True)
class _RunningJob:
    ui: str
    client: Client
    store: Store
    job_id: str
    workflow_id: str


async def _send_signal_from_ui(page: Page, running: _RunningJob, name: str) -> None:
    """More Actions → Send a Signal → ``name``, the input box left empty → Submit."""
    url = f"{running.ui}/namespaces/default/workflows/{quote(running.workflow_id, safe='')}"
    await page.goto(url, wait_until="domcontentloaded")
    await page.get_by_role("button", name="More Actions").click()
    await page.get_by_test_id("signal-button").filter(visible=True).first.click()
    dialog = page.get_by_test_id("signal-confirmation-modal").filter(visible=True).first
    await dialog.get_by_test_id("signal-select-button").click()
    await page.get_by_role("option", name=name, exact=True).click()
    data = dialog.get_by_role("textbox")
    assert await data.count() == 0 or not (await data.first.inner_text()).strip()
    await dialog.get_by_role("button", name="Submit").click()
    await dialog.wait_for(state="hidden")


async def test_job_is_paused_resumed_and_cancelled_from_the_ui_signal_dialog(
    page: Page, tmp_path: Path
) -> None:
    async with (
        fresh_postgres_database() as database_url,
        _running_job(tmp_path / "stack", database_url) as running,
    ):
        handle = running.client.get_workflow_handle_for(
            BatchParentWorkflow.run, running.workflow_id
        )

        async def job() -> JobRow:
            return await running.store.jobs.get_job(running.job_id)

        await eventually(
            lambda: _completed_at_least(job, 1), timeout=60, what="the first item done"
        )
        await _send_signal_from_ui(page, running, "pause")
        await eventually(lambda: _paused_is(job, True), timeout=30, what="paused")
        progress = await handle.query(BatchParentWorkflow.progress)
        assert (progress.status, progress.paused) == ("paused", True)
        await save_screenshot(page, tmp_path, "job-paused-from-ui")

        await _send_signal_from_ui(page, running, "resume")
        await eventually(lambda: _paused_is(job, False), timeout=30, what="resumed")
        done = (await job()).completed_items
        await eventually(
            lambda: _completed_at_least(job, done + 2), timeout=60, what="dispatching again"
        )

        await _send_signal_from_ui(page, running, "cancel")
        result = await asyncio.wait_for(handle.result(), JOB_TIMEOUT_SECONDS)
        assert result.status == JobStatus.CANCELLED
        ended = await job()
        assert ended.cancelled_items > 0 and ended.completed_items < 60
        histories = await parent_histories(running.client, running.workflow_id)
        assert failed_workflow_tasks(histories) == []
        signals = [
            event.workflow_execution_signaled_event_attributes
            for history in histories
            for event in history.events
            if event.HasField("workflow_execution_signaled_event_attributes")
        ]
        assert [(s.signal_name, len(s.input.payloads)) for s in signals] == [
            ("pause", 0),
            ("resume", 0),
            ("cancel", 0),
        ], "the UI sent the signals with input"
        await replay(histories)


async def _completed_at_least(job: Callable[[], Awaitable[JobRow]], count: int) -> bool:
    return (await job()).completed_items >= count


async def _paused_is(job: Callable[[], Awaitable[JobRow]], paused: bool) -> bool:
    return bool((await job()).paused) is paused

"""Helpers for end-to-end batch tests."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import worker as worker_module
from docbatch import service
from docbatch.models import BatchCreateRequest, BatchGetStatusResponse
from docbatch.store.tables import JobRow
from tests.conftest import Stack

JOB_TIMEOUT_SECONDS = 180


def write_text_files(folder: Path, count: int, *, prefix: str = "doc") -> list[Path]:
    """``count`` small, distinct text documents."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{prefix}-{index:04d}.txt"
        path.write_text(f"Document {index}\n\nThis is the body of document number {index}.\n")
        paths.append(path)
    return paths


async def start_job(stack: Stack, body: dict[str, Any]) -> JobRow:
    """Create a job through the service, as the CLI and API do."""
    request = BatchCreateRequest.model_validate(body)
    return await service.create_job(
        stack.store, stack.client, stack.settings, request, project_id=stack.settings.project_id
    )


async def start_folder_job(
    stack: Stack, folder: Path, config: dict[str, Any] | None = None, **extra: Any
) -> JobRow:
    """Register a folder and start a job over it."""
    registered = await service.register_local_folder(
        stack.store, folder, project_id=stack.settings.project_id
    )
    body = {"job_config": config or {}, "directory_id": registered.directory.id, **extra}
    return await start_job(stack, body)


async def wait_job(stack: Stack, job: JobRow) -> BatchGetStatusResponse:
    """Wait for the parent workflow chain to close, then read the job from the store."""
    handle = stack.client.get_workflow_handle(job.workflow_id)
    await asyncio.wait_for(handle.result(), JOB_TIMEOUT_SECONDS)
    return await service.get_status(stack.store, job.id)


async def run_folder_job(
    stack: Stack, folder: Path, config: dict[str, Any] | None = None, **extra: Any
) -> BatchGetStatusResponse:
    """Start a folder job and wait for it to end."""
    return await wait_job(stack, await start_folder_job(stack, folder, config, **extra))


async def parent_histories(stack: Stack | Client, workflow_id: str) -> list[WorkflowHistory]:
    """Histories of every run of a parent workflow (the continue-as-new chain)."""
    client = stack if isinstance(stack, Client) else stack.client
    # Walk the chain backwards from the latest run: each run's first event names the
    # run it continued from. Unlike visibility queries this never lags.
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return list(reversed(histories))
        run_id = started.continued_execution_run_id


def children_started(history: WorkflowHistory) -> int:
    """How many child workflows a run started."""
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    )


async def wait_until(predicate: Any, *, timeout: float = 60.0, interval: float = 0.1) -> None:
    """Poll an async predicate until it holds (no fixed sleeps in tests)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


def failed_workflow_tasks(histories: list[WorkflowHistory]) -> list[str]:
    """Workflow tasks of these histories that failed in the workflow's code (none, if healthy).

    Left out: ``UnhandledCommand``, which the server answers when new events (a child
    that ended, a signal) arrive while a task that completes the run is in flight. The
    worker then runs the task again with those events: Temporal's own race, not a fault.
    """
    return [
        f"{WorkflowTaskFailedCause.Name(attributes.cause)}: {attributes.failure.message}"
        for history in histories
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        and (attributes := event.workflow_task_failed_event_attributes).cause
        != WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
    ]


async def replay(histories: list[WorkflowHistory]) -> None:
    """Replay ``histories`` on today's workflow code, as a worker would after a deploy.

    Raises on any nondeterminism or failure the replay meets.
    """
    replayer = Replayer(
        workflows=worker_module.WORKFLOWS,
        workflow_runner=worker_module.workflow_runner(),
        data_converter=pydantic_data_converter,
    )
    async with replayer.workflow_replay_iterator(_iterate(histories)) as results:
        async for result in results:
            if result.replay_failure is not None:
                raise AssertionError(
                    f"replay of {result.history.workflow_id} failed: {result.replay_failure}"
                ) from result.replay_failure


async def _iterate(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


HISTORIES_DIR = Path(__file__).resolve().parent / "histories"
"""Stored parent histories that ``test_replay`` replays on today's code."""
RECORD_HISTORIES_VARIABLE = "DOCBATCH_RECORD_HISTORIES"
"""Set to 1 to (re)write the stored histories from the tests that make them."""


def record_histories(name: str, histories: list[WorkflowHistory]) -> None:
    """Store ``histories`` as ``histories/<name>-<run>.json`` when asked to record."""
    if os.environ.get(RECORD_HISTORIES_VARIABLE) != "1":
        return
    HISTORIES_DIR.mkdir(exist_ok=True)
    for run, history in enumerate(histories, start=1):
        document = {"workflow_id": history.workflow_id, "history": history.to_json_dict()}
        (HISTORIES_DIR / f"{name}-{run}.json").write_text(json.dumps(document, indent=1) + "\n")


def stored_histories() -> dict[str, WorkflowHistory]:
    """Every stored history by file name."""
    stored = {}
    for path in sorted(HISTORIES_DIR.glob("*.json")):
        document = json.loads(path.read_text())
        stored[path.name] = WorkflowHistory.from_json(document["workflow_id"], document["history"])
    return stored

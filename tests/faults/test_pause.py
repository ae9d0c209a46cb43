"""Fault 6: a paused job holds through continue-as-new, a SIGKILLed worker and a server restart.

Documents named ``gate`` wait in their engine until the test opens the gate, so the job
is paused while exactly one window of items is in flight. Those items finish; the run
continues as new carrying the pause; the worker is SIGKILLed and the Temporal server
restarted; for five seconds nothing new starts. Then ``resume`` completes the job with
exact counts, and the histories of every run replay on today's code.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from temporalio.client import WorkflowHistory

from docbatch import service
from docbatch.messages import BatchParentInput, Progress
from docbatch.temporal import JOB_STATUS
from tests.faults.conftest import Scenario
from tests.faults.engines import open_gate, started_marker
from tests.faults.harness import Cluster, audit_job, eventually, result_blobs
from tests.faults.report import Figures
from tests.workflows.helpers import (
    children_started,
    failed_workflow_tasks,
    parent_histories,
    record_histories,
    replay,
)
from workflows.batch_parent import BatchParentWorkflow

ITEMS = 12
WINDOW = 3
"""Window, page size and continue-as-new threshold alike: each run dispatches one window
and then drains it, so a pause sent while it drains is carried into the next run."""
HOLD_SECONDS = 5.0
"""How long the pause is held and watched (the fault's duration, not a synchronisation)."""


def _started(folder: Path) -> int:
    return sum(1 for _ in folder.glob(".*.started"))


def _run_input(history: WorkflowHistory) -> BatchParentInput:
    started = history.events[0].workflow_execution_started_event_attributes
    return BatchParentInput.model_validate(json.loads(started.input.payloads[0].data))


async def test_pause_holds_through_continue_as_new_worker_kill_and_server_restart(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    unique = uuid.uuid4().hex[:8]
    for index in range(ITEMS):
        (folder / f"gate-{index:02d}.txt").write_text(f"{unique} document {index}")
    worker = stack.worker(
        "worker",
        module="tests.faults.fault_worker",
        DOCBATCH_MAX_CONCURRENT_CHILDREN=str(WINDOW),
        DOCBATCH_ENGINE_PROCESSES=str(WINDOW),
    )
    await worker.start_ready()
    job = await stack.folder_job(folder, page_size=WINDOW, continue_as_new_threshold=WINDOW)
    await eventually(lambda: _started(folder) == WINDOW, timeout=60, what="a window in flight")

    paused = await service.set_paused(stack.store, stack.client, job.id, True)
    assert paused.paused and paused.status == "running"
    open_gate(folder)  # the items in flight finish while paused
    await eventually(
        lambda: stack.job(job.id)["completed_items"] == WINDOW, timeout=60, what="window done"
    )

    async def carried_into_next_run() -> bool:
        histories = await parent_histories(stack.client, job.workflow_id)
        return len(histories) >= 2 and _run_input(histories[-1]).state is not None

    await eventually(carried_into_next_run, timeout=60, what="continue-as-new while paused")

    await worker.kill_group()  # SIGKILL: worker and engine processes
    assert await stack.server.stop() == 0, stack.server.log_text()[-2000:]
    await stack.server.start_and_connect()
    await worker.start_ready()
    handle = stack.client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    await asyncio.sleep(HOLD_SECONDS)  # hold the pause

    row = stack.job(job.id)
    assert (row["completed_items"], row["paused"], row["status"]) == (WINDOW, True, "running")
    assert _started(folder) == WINDOW, "an item was started while the job was paused"
    progress: Progress = await handle.query(BatchParentWorkflow.progress)
    assert (progress.status, progress.paused, progress.in_flight) == ("paused", True, 0)
    described = await handle.describe()
    assert described.typed_search_attributes.get(JOB_STATUS) == "paused"
    histories = await parent_histories(stack.client, job.workflow_id)
    assert sum(children_started(h) for h in histories) == WINDOW
    assert _run_input(histories[-1]).state.paused  # type: ignore[union-attr]
    shown = await service.get_status(stack.store, job.id)
    assert shown.job.paused and shown.job.status == "running"

    resumed = await service.set_paused(stack.store, stack.client, job.id, False)
    assert not resumed.paused
    result = await stack.finished(job, timeout=120)
    await stack.no_open_workflows(job.id)

    assert (result["status"], result["completed"], result["total"]) == ("completed", ITEMS, ITEMS)
    assert not stack.job(job.id)["paused"]
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert set(result_blobs(stack.blob_dir).values()) == {1}
    assert started_marker(folder / "gate-00.txt").exists()
    histories = await parent_histories(stack.client, job.workflow_id)
    assert sum(children_started(h) for h in histories) == ITEMS
    assert failed_workflow_tasks(histories) == []
    record_histories("pause-continue-as-new-kill-restart", histories)
    await replay(histories)
    scenario.record(
        Figures.of(
            "pause-held",
            "Paused job through faults",
            faults=3,
            fault="paused while a window ran; continue-as-new, SIGKILL of the worker, "
            "Temporal server restarted, all while paused",
            audit=audit,
            duplicated=len(audit.duplicated),
            re_executed=0,
            seconds=scenario.elapsed,
            notes=f"{WINDOW} items finished after the pause, none started in "
            f"{HOLD_SECONDS:g} s held; resume completed {ITEMS} of {ITEMS} in "
            f"{len(histories)} runs",
        )
    )

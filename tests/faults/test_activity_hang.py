"""Fault 4: an engine hangs; then the worker process running a hung engine is killed."""

from __future__ import annotations

import time
from pathlib import Path

from docbatch.ids import item_workflow_id
from tests.faults.conftest import Scenario
from tests.faults.engines import started_marker
from tests.faults.harness import (
    Cluster,
    audit_job,
    engine_attempts,
    eventually,
    in_process_worker,
    items_named,
    query,
    result_blobs,
)
from tests.faults.report import Figures
from tests.workflows.helpers import write_text_files
from workflows.batch_item import ENGINE_HEARTBEAT_TIMEOUT

HANG_TIMEOUT_SECONDS = 10.0
"""The job's ``job_timeout_in_seconds``: above the engine pool's respawn time (about
3 s on a loaded runner), which counts against the limit of a retried document."""
HEARTBEAT_TIMEOUT_SECONDS = ENGINE_HEARTBEAT_TIMEOUT.total_seconds()


async def test_hung_engine_fails_its_item_by_timeout_and_the_others_complete(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 30, prefix="h")
    hung = folder / "h-0010-hang.txt"
    hung.write_text("This engine never returns.\n")
    async with in_process_worker(stack, engine_processes=2):
        job = await stack.folder_job(
            folder, {"parameters": {"job_timeout_in_seconds": HANG_TIMEOUT_SECONDS}}, page_size=10
        )
        await eventually(started_marker(hung).exists, timeout=60, what="the engine hangs")
        hung_at = time.monotonic()
        assert items_named(stack.db_file, job.id, "hang")[0][1] == "processing"
        await eventually(
            lambda: items_named(stack.db_file, job.id, "hang")[0][1] != "processing",
            timeout=HANG_TIMEOUT_SECONDS + 60,
            what="the hung item ends",
        )
        ended_after = time.monotonic() - hung_at
        result = await stack.finished(job, timeout=120)
    await stack.no_open_workflows(job.id)
    ended = items_named(stack.db_file, job.id, "hang")

    assert result["status"] == "completed"
    assert ended == [
        (
            hung.name,
            "failed",
            f"timed out after {HANG_TIMEOUT_SECONDS:g}s (job_timeout_in_seconds)",
        )
    ]
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert audit.by_status == {"completed": 30, "failed": 1}
    blobs = result_blobs(stack.blob_dir)
    assert len(blobs) == 30 and set(blobs.values()) == {1}
    item_ids = [
        row[0]
        for row in query(stack.db_file, "SELECT item_id FROM job_items WHERE job_id = ?", job.id)
    ]
    attempts = await engine_attempts(stack.client, job.id, item_ids)
    scenario.record(
        Figures.of(
            "engine-hang",
            "Engine hangs",
            faults=1,
            fault="an engine that never returns on one document (worker in the test "
            f"process), `job_timeout_in_seconds={HANG_TIMEOUT_SECONDS:g}`",
            audit=audit,
            duplicated=len(audit.duplicated),
            re_executed=max(1, sum(1 for attempt in attempts.values() if attempt > 1)),
            seconds=scenario.elapsed,
            notes=f"the hung item failed 'timed out' {ended_after:.0f} s after its engine "
            "started; the engine process was killed, never left `processing`",
        )
    )


async def test_worker_killed_while_its_engine_hangs_is_retried_on_another_worker(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, 20, prefix="k")
    hung = folder / "k-0005-hang-once.txt"
    hung.write_text("The first attempt at this document hangs.\n")
    first = stack.worker("worker-a", module="tests.faults.fault_worker")
    await first.start_ready()
    job = await stack.folder_job(folder, page_size=10)
    await eventually(started_marker(hung).exists, timeout=60, what="the engine hangs")
    engine_pid = int(started_marker(hung).read_text())
    assert engine_pid in first.engine_processes(), "the hung engine is not worker A's"
    await first.kill_group()
    killed_at = time.monotonic()
    second = stack.worker("worker-b", module="tests.faults.fault_worker")
    await second.start_ready()

    def hung_item_ended() -> bool:
        return items_named(stack.db_file, job.id, "hang")[0][1] not in ("pending", "processing")

    await eventually(
        hung_item_ended, timeout=HEARTBEAT_TIMEOUT_SECONDS + 60, what="the hung item ends"
    )
    recovered_after = time.monotonic() - killed_at
    result = await stack.finished(job, timeout=60)
    await stack.no_open_workflows(job.id)

    assert result["status"] == "completed"
    assert items_named(stack.db_file, job.id, "hang") == [(hung.name, "completed", None)]
    # Nothing reported the dead attempt before its heartbeat timeout.
    assert recovered_after >= HEARTBEAT_TIMEOUT_SECONDS - 5
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert audit.by_status == {"completed": 21}
    blobs = result_blobs(stack.blob_dir)
    assert len(blobs) == 21 and set(blobs.values()) == {1}
    attempts = await engine_attempts(stack.client, job.id, list(blobs))
    (hung_id,) = (
        row[0]
        for row in query(
            stack.db_file, "SELECT item_id FROM job_items WHERE item_name = ?", hung.name
        )
    )
    # The document hung on worker A: in its quick attempt (a local activity inside the
    # item's workflow task, which then timed out) or in the durable attempt that adopted
    # it (whose heartbeat then timed out). Either way worker B ran the item to its end.
    handle = stack.client.get_workflow_handle(item_workflow_id(job.id, hung_id))
    history = await handle.fetch_history()
    task_timed_out = any(
        event.HasField("workflow_task_timed_out_event_attributes") for event in history.events
    )
    activity_starts = [
        event.activity_task_started_event_attributes
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    retried_on_b = bool(activity_starts) and (
        activity_starts[-1].attempt == 2
        and activity_starts[-1].identity.startswith(f"{second.pid}@")
    )
    assert task_timed_out or retried_on_b, [event.event_type for event in history.events]
    finisher = [
        event.workflow_task_completed_event_attributes.identity
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    ][-1]
    assert finisher.startswith(f"{second.pid}@"), finisher
    scenario.record(
        Figures.of(
            "hung-worker-sigkill",
            "Worker killed during a hung engine",
            faults=1,
            fault="SIGKILL of the worker process (and its engine processes) whose engine "
            "hangs on one document; a new worker is started",
            audit=audit,
            duplicated=len(audit.duplicated),
            re_executed=max(1, sum(1 for attempt in attempts.values() if attempt > 1)),
            seconds=scenario.elapsed,
            notes=f"the hung item was retried on the new worker and completed "
            f"{recovered_after:.0f} s after the kill (heartbeat / workflow task timeout "
            f"{HEARTBEAT_TIMEOUT_SECONDS:g} s) — finding 5",
        )
    )

"""Fault 1: the worker process (with its engine processes) is SIGKILLed mid-batch."""

from __future__ import annotations

from pathlib import Path

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    Cluster,
    audit_job,
    engine_attempts,
    eventually,
    group_members,
    result_blobs,
)
from tests.faults.report import Figures
from tests.workflows.helpers import write_text_files

ITEMS = 300
PAGE_SIZE = 50
CONTINUE_AS_NEW_THRESHOLD = 150
"""Above the worker's 50 concurrent activities: while the attempts a dead worker held
wait for their heartbeat timeout, its successor has other items of the run to work on
(with threshold = page size every kill would stall the run for the whole timeout)."""
KILLS = 3
PROGRESS_BETWEEN_KILLS = 10
"""Items a fresh worker completes before it is killed in turn."""


async def test_batch_completes_exactly_once_although_its_worker_is_killed(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, ITEMS, prefix="kill")
    worker = stack.worker("worker")
    await worker.start_ready()
    job = await stack.folder_job(
        folder, page_size=PAGE_SIZE, continue_as_new_threshold=CONTINUE_AS_NEW_THRESHOLD
    )

    at_kill = []
    for _ in range(KILLS):
        target = stack.job(job.id)["completed_items"] + PROGRESS_BETWEEN_KILLS
        await eventually(
            lambda target=target: stack.job(job.id)["completed_items"] >= target,
            timeout=120,
            what=f"{target} items completed",
        )
        engines = worker.engine_processes()
        pgid = worker.pid
        at_kill.append(stack.job(job.id)["completed_items"])
        await worker.kill_group()  # SIGKILL to the worker and its engine processes
        assert not group_members(pgid), "an engine process survived its worker"
        assert engines, "the worker ran no engine process"
        await worker.start_ready()

    result = await stack.finished(job, timeout=300)
    await stack.no_open_workflows(job.id)

    assert all(done < ITEMS for done in at_kill), f"killed after the batch ended: {at_kill}"
    assert result["status"] == "completed"
    assert result["runs"] >= ITEMS // CONTINUE_AS_NEW_THRESHOLD, "no continue-as-new"
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert audit.count("completed") == ITEMS
    assert audit.results == ITEMS
    blobs = result_blobs(stack.blob_dir)
    assert len(blobs) == ITEMS
    assert set(blobs.values()) == {1}
    attempts = await engine_attempts(stack.client, job.id, list(blobs))
    re_executed = sum(1 for attempt in attempts.values() if attempt > 1)
    assert re_executed > 0, "no attempt was interrupted: the kills hit nothing"
    scenario.record(
        Figures.of(
            "worker-sigkill",
            "Worker killed",
            faults=KILLS,
            fault="SIGKILL of `worker.py` and its engine processes (process group), "
            "new worker each time",
            audit=audit,
            duplicated=len(audit.duplicated) + sum(1 for n in blobs.values() if n > 1),
            re_executed=re_executed,
            seconds=scenario.elapsed,
            notes=f"killed at {', '.join(map(str, at_kill))} completed; "
            f"{result['runs']} runs (page size {PAGE_SIZE}, "
            f"continue-as-new every {CONTINUE_AS_NEW_THRESHOLD})",
        )
    )

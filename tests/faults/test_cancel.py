"""Fault 5: a job is cancelled in each phase of its parent workflow, by Update or signal.

Phases: *listing* (the parent pages through the listing: its store write is held by a
lock while the cancel arrives), *dispatching* (items listed and waiting for a slot in
the window of children), *draining* (everything dispatched, children still running),
at the *continue-as-new* boundary (a run waits for its children before continuing as
new), and a *race* with continue-as-new (the children finish while the cancel is on
its way). Documents named ``gate`` wait in their engine until the test opens the gate,
so each phase is reached deterministically.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from docbatch import service
from docbatch.messages import CancelRequest, Progress
from docbatch.models import BatchCancelResponse
from docbatch.store.tables import JobRow
from tests.faults.conftest import Scenario
from tests.faults.engines import open_gate, started_marker
from tests.faults.harness import (
    Audit,
    Cluster,
    StoreLock,
    audit_job,
    cluster,
    eventually,
    in_process_worker,
    item_statuses,
    query,
    result_blobs,
)
from tests.faults.report import Figures
from workflows.batch_parent import BatchParentWorkflow

WINDOW = 2
"""The worker's ``max_concurrent_children``: small, so items wait for a slot."""
REASON = "fault injection"
METHODS = ("update", "signal")


@pytest.fixture(scope="module")
async def cancel_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """One dev server and one in-process worker (with the gate engine) for the module."""
    async with (
        cluster(tmp_path_factory.mktemp("cancel")) as stack,
        in_process_worker(stack, engine_processes=3, max_concurrent_children=WINDOW),
    ):
        yield stack


def _documents(folder: Path, names: list[str]) -> None:
    """Small documents with contents unique to this test (no dedup across jobs)."""
    folder.mkdir(parents=True)
    unique = uuid.uuid4().hex[:8]
    for name in names:
        (folder / name).write_text(f"{unique} {name}")


async def _cancel(
    stack: Cluster, job: JobRow, how: str
) -> asyncio.Task[BatchCancelResponse] | None:
    """Request the cancellation: the Update (in a task: it answers once all ended) or
    the signal."""
    if how == "update":
        return asyncio.create_task(
            service.cancel_job(stack.store, stack.client, job.id, reason=REASON)
        )
    handle = stack.client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    await handle.signal(BatchParentWorkflow.cancel, CancelRequest(reason=REASON))
    return None


def _status_of(stack: Cluster, job: JobRow) -> dict[str, str]:
    return dict(
        query(stack.db_file, "SELECT item_name, status FROM job_items WHERE job_id = ?", job.id)
    )


async def _cancelled(
    stack: Cluster,
    job: JobRow,
    update: asyncio.Task[BatchCancelResponse] | None,
) -> tuple[dict[str, Any], Audit]:
    """Wait for the job to end; check it is cancelled with every item terminal."""
    result = await stack.finished(job, timeout=90)
    assert result["status"] == "cancelled", result
    row = stack.job(job.id)
    assert row["status"] == "cancelled"
    assert row["cancel_reason"] == REASON
    if update is not None:
        answer = await asyncio.wait_for(update, 30)
        assert answer.status == "cancelled"
        assert answer.processed_items == row["completed_items"] + row["failed_items"]
    await stack.no_open_workflows(job.id)
    audit = audit_job(stack.db_file, job.id)
    # Every item terminal, counters exact, completed items with their result and blob,
    # no result for an item that did not complete (finding 7).
    audit.check()
    return result, audit


def _check_phase_outcome(
    stack: Cluster,
    job: JobRow,
    *,
    completed: list[str],
    running: list[str],
    never_started: list[str],
) -> None:
    status = _status_of(stack, job)
    assert {name: status[name] for name in completed} == dict.fromkeys(completed, "completed")
    # Items whose engine ran when the cancel came are cancelled, not failed (finding 1).
    assert {name: status[name] for name in running} == dict.fromkeys(running, "cancelled")
    assert {name: status.get(name, "unlisted") for name in never_started} == dict.fromkeys(
        never_started, "cancelled"
    )
    # Finished outputs are kept: each completed item has its result row and blob.
    blobs = result_blobs(stack.blob_dir)
    for item_id, name in query(
        stack.db_file,
        "SELECT item_id, item_name FROM job_items WHERE job_id = ? AND status = 'completed'",
        job.id,
    ):
        assert blobs.get(item_id) == 1, f"{name} lost its output"


def _record(scenario: Scenario, key: str, phase: str, how: str, audit: Audit, notes: str) -> None:
    scenario.record(
        Figures.of(
            key,
            f"Cancel while {phase}",
            faults=1,
            fault=f"cancel by {'Update (`service.cancel_job`)' if how == 'update' else 'signal'}",
            audit=audit,
            duplicated=len(audit.duplicated),
            re_executed=0,
            seconds=scenario.elapsed,
            notes=notes,
        )
    )


@pytest.mark.parametrize("how", METHODS)
async def test_cancel_while_listing(
    scenario: Scenario, cancel_stack: Cluster, tmp_path: Path, how: str
) -> None:
    stack = cancel_stack
    folder = tmp_path / "docs"
    small = [f"a-{i}.txt" for i in range(3)]
    _documents(folder, small)
    large = [f"b-{i:05d}.txt" for i in range(1500)]
    for name in large:  # over the job's size limit: skipped by the listing itself
        (folder / name).write_text(name * 20)
    job = await stack.folder_job(folder, page_size=5, settings={"max_file_size_bytes": 100})
    await eventually(
        lambda: item_statuses(stack.db_file, job.id).get("skipped", 0) >= 50,
        timeout=60,
        what="the listing is under way",
    )
    lock = StoreLock(stack.db_file)
    await lock.acquire()  # the parent's next page of the listing waits on this lock
    try:
        listed = sum(item_statuses(stack.db_file, job.id).values())
        assert listed < len(small) + len(large), "the listing ended before the cancel"
        update = await _cancel(stack, job, how)
        await asyncio.sleep(1.5)  # hold the listing while the cancel arrives
    finally:
        await lock.release()
    _, audit = await _cancelled(stack, job, update)

    status = _status_of(stack, job)
    assert all(status[name] != "pending" for name in small)
    skipped = sum(1 for name in large if status[name] == "skipped")
    cancelled = sum(1 for name in large if status[name] == "cancelled")
    assert skipped + cancelled == len(large)
    assert cancelled > 0, "every file was listed: the cancel did not land while listing"
    _record(
        scenario,
        f"cancel-listing-{how}",
        "listing",
        how,
        audit,
        f"{listed} of {len(small) + len(large)} files listed when the cancel was sent; "
        f"{cancelled} never listed, made items as cancelled",
    )


@pytest.mark.parametrize("how", METHODS)
async def test_cancel_while_dispatching(
    scenario: Scenario, cancel_stack: Cluster, tmp_path: Path, how: str
) -> None:
    stack = cancel_stack
    folder = tmp_path / "docs"
    done = [f"a-{i}.txt" for i in range(4)]
    running = [f"b-gate-{i}.txt" for i in range(WINDOW)]
    waiting = [f"c-{i}.txt" for i in range(6)]
    _documents(folder, done + running + waiting)
    try:
        job = await stack.folder_job(folder, page_size=20)
        await eventually(
            lambda: (
                all(started_marker(folder / name).exists() for name in running)
                and item_statuses(stack.db_file, job.id).get("completed") == len(done)
            ),
            timeout=60,
            what="the window is full of running items",
        )
        status = _status_of(stack, job)
        assert stack.job(job.id)["status"] == "running"
        assert [status[name] for name in waiting] == ["pending"] * len(waiting)
        update = await _cancel(stack, job, how)
        _, audit = await _cancelled(stack, job, update)
        _check_phase_outcome(stack, job, completed=done, running=running, never_started=waiting)
    finally:
        open_gate(folder)
    _record(
        scenario,
        f"cancel-dispatching-{how}",
        "dispatching",
        how,
        audit,
        f"{len(done)} done, {len(running)} running, {len(waiting)} listed waiting for a slot",
    )


@pytest.mark.parametrize("how", METHODS)
async def test_cancel_while_draining(
    scenario: Scenario, cancel_stack: Cluster, tmp_path: Path, how: str
) -> None:
    stack = cancel_stack
    folder = tmp_path / "docs"
    done = [f"a-{i}.txt" for i in range(4)]
    running = [f"z-gate-{i}.txt" for i in range(WINDOW)]
    _documents(folder, done + running)
    try:
        job = await stack.folder_job(folder, page_size=3, continue_as_new_threshold=100)
        await eventually(
            lambda: (
                stack.job(job.id)["status"] == "dispatched"
                and all(started_marker(folder / name).exists() for name in running)
            ),
            timeout=60,
            what="every item dispatched, the last ones running",
        )
        update = await _cancel(stack, job, how)
        _, audit = await _cancelled(stack, job, update)
        _check_phase_outcome(stack, job, completed=done, running=running, never_started=[])
    finally:
        open_gate(folder)
    _record(
        scenario,
        f"cancel-draining-{how}",
        "draining",
        how,
        audit,
        f"job `dispatched`, {len(running)} items still running",
    )


@pytest.mark.parametrize("how", METHODS)
async def test_cancel_at_the_continue_as_new_boundary(
    scenario: Scenario, cancel_stack: Cluster, tmp_path: Path, how: str
) -> None:
    stack = cancel_stack
    folder = tmp_path / "docs"
    done = ["a-0.txt"]
    running = [f"b-gate-{i}.txt" for i in range(WINDOW)]
    later = [f"c-{i}.txt" for i in range(6)]
    _documents(folder, done + running + later)
    try:
        # A run hands 3 items to children, waits for them, then continues as new.
        job = await stack.folder_job(folder, page_size=3)
        await eventually(
            lambda: (
                all(started_marker(folder / name).exists() for name in running)
                and item_statuses(stack.db_file, job.id).get("completed") == 1
            ),
            timeout=60,
            what="the run's budget dispatched, its last children running",
        )
        handle = stack.client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
        progress: Progress = await handle.query(BatchParentWorkflow.progress)
        assert (progress.run, progress.in_flight) == (1, WINDOW)
        update = await _cancel(stack, job, how)
        result, audit = await _cancelled(stack, job, update)
        assert result["runs"] == 1, "continued as new although cancelled"
        _check_phase_outcome(stack, job, completed=done, running=running, never_started=later)
    finally:
        open_gate(folder)
    _record(
        scenario,
        f"cancel-continue-as-new-{how}",
        "waiting to continue-as-new",
        how,
        audit,
        f"run 1 draining its last {len(running)} children; {len(later)} items never listed",
    )


RACE_DELAYS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Seconds between opening the gate (the run's last children finish, the run continues
as new) and sending the cancel."""


async def test_cancel_racing_continue_as_new(
    scenario: Scenario, cancel_stack: Cluster, tmp_path: Path
) -> None:
    stack = cancel_stack
    audits = []
    landed = {1: 0, 2: 0}
    for attempt, delay in enumerate(RACE_DELAYS):
        how = METHODS[attempt % 2]
        folder = tmp_path / f"docs-{attempt}"
        running = [f"a-gate-{i}.txt" for i in range(WINDOW)]
        later = [f"b-{i}.txt" for i in range(6)]
        _documents(folder, ["a-0.txt", *running, *later])
        try:
            job = await stack.folder_job(folder, page_size=3)
            await eventually(
                lambda folder=folder, running=running, job=job: (
                    all(started_marker(folder / name).exists() for name in running)
                    and item_statuses(stack.db_file, job.id).get("completed") == 1
                ),
                timeout=60,
                what="the run's last children running",
            )
            open_gate(folder)
            await asyncio.sleep(delay)  # the race: how far continue-as-new has got
            update = await _cancel(stack, job, how)
            result, audit = await _cancelled(stack, job, update)
        finally:
            open_gate(folder)
        status = _status_of(stack, job)
        assert status["a-0.txt"] == "completed"
        assert all(status[name] in ("completed", "cancelled") for name in running), status
        landed[min(result["runs"], 2)] += 1
        audits.append(audit)
    total = audit_totals(audits)
    scenario.record(
        Figures(
            key="cancel-continue-as-new-race",
            scenario="Cancel racing continue-as-new",
            faults=len(RACE_DELAYS),
            fault="children finish, cancel sent "
            + "/".join(f"{delay:g}" for delay in RACE_DELAYS)
            + " s later (Update and signal alternately)",
            seconds=scenario.elapsed,
            notes=f"the cancel landed in run 1 {landed[1]}×, in a later run {landed[2]}×",
            **total,
        )
    )


def audit_totals(audits: list[Audit]) -> dict[str, int]:
    """Sums of several jobs' figures."""
    return {
        "items": sum(a.files for a in audits),
        "completed": sum(a.count("completed") for a in audits),
        "failed": sum(a.count("failed") for a in audits),
        "cancelled": sum(a.count("cancelled") for a in audits),
        "skipped": sum(a.count("skipped") for a in audits),
        "lost": sum(a.lost for a in audits),
        "duplicated": sum(len(a.duplicated) for a in audits),
        "re_executed": 0,
    }

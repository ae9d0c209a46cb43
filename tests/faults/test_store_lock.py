"""Fault 3: the store is write-locked by another connection for a few seconds (the SQLite
file with ``BEGIN EXCLUSIVE``, or every Postgres table with ``LOCK TABLE``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.faults.conftest import Scenario
from tests.faults.harness import (
    Cluster,
    StoreLock,
    audit_job,
    engine_attempts,
    eventually,
    item_statuses,
    result_blobs,
)
from tests.faults.report import Figures
from tests.workflows.helpers import write_text_files

ITEMS = 200
PAGE_SIZE = 50
LOCK_SECONDS = 5.0
LOCK_AFTER = (30, 110)
"""Completed items at which each lock is taken."""


async def test_batch_completes_exactly_once_although_the_store_is_locked(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, ITEMS, prefix="lock")
    worker = stack.worker("worker")
    await worker.start_ready()
    job = await stack.folder_job(folder, page_size=PAGE_SIZE)

    locks = []
    for after in LOCK_AFTER:
        await eventually(
            lambda after=after: stack.job(job.id)["completed_items"] >= after,
            timeout=120,
            what=f"{after} items completed",
        )
        lock = StoreLock(stack.db_file)
        await lock.acquire()
        try:
            frozen = stack.job(job.id)["completed_items"]  # readers go on
            statuses = item_statuses(stack.db_file, job.id)
            await asyncio.sleep(LOCK_SECONDS)  # hold the fault
            # Nothing could be written meanwhile: not one item completed.
            assert stack.job(job.id)["completed_items"] == frozen
            assert item_statuses(stack.db_file, job.id) == statuses
        finally:
            await lock.release()
        locks.append((frozen, lock.held_seconds))
        await eventually(
            lambda frozen=frozen: stack.job(job.id)["completed_items"] > frozen,
            timeout=60,
            what="writes resume after the lock",
        )
    assert all(frozen < ITEMS for frozen, _ in locks), f"locked after the batch: {locks}"

    result = await stack.finished(job, timeout=240)
    await stack.no_open_workflows(job.id)
    assert result["status"] == "completed"
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert audit.count("completed") == ITEMS == audit.results
    blobs = result_blobs(stack.blob_dir)
    assert len(blobs) == ITEMS and set(blobs.values()) == {1}
    attempts = await engine_attempts(stack.client, job.id, list(blobs))
    log = worker.log_text()
    failed_attempts = log.count("Completing activity as failed")
    locked_errors = log.count("database is locked")
    sqlite = stack.database_url is None
    scenario.record(
        Figures.of(
            "store-lock",
            "Store unavailable",
            faults=len(locks),
            fault=f"{lock.description} held {LOCK_SECONDS:g} s from another connection",
            audit=audit,
            duplicated=len(audit.duplicated) + sum(1 for n in blobs.values() if n > 1),
            re_executed=sum(1 for attempt in attempts.values() if attempt > 1),
            seconds=scenario.elapsed,
            notes=f"locked at {', '.join(str(frozen) for frozen, _ in locks)} completed; "
            f"writers waited ({'busy_timeout 60 s' if sqlite else 'on the table locks'}): "
            f"{failed_attempts} failed activity attempts, "
            f"{locked_errors} 'database is locked' errors",
        )
    )

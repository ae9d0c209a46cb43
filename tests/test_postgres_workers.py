"""Scale-out on Postgres: two worker processes share one store and one task queue.

Real processes throughout: a Temporal dev server subprocess, two ``worker.py``-style
worker processes (``python -m tests.faults.logging_worker``, each with its own engine
pool and connection pool) and a fresh Postgres database. Runs in CI's Postgres pass
(``DOCBATCH_TEST_DATABASE_URL``); skipped without a Postgres server.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.databases import requires_postgres
from tests.faults.engines import INVOCATION_LOG_VARIABLE, WORKER_NAME_VARIABLE
from tests.faults.harness import audit_job, cluster, result_blobs
from tests.workflows.helpers import write_text_files

ITEMS = 160
PAGE_SIZE = 40
WORKERS = ("worker-a", "worker-b")
JOB_TIMEOUT = 300.0


@requires_postgres
async def test_two_workers_on_one_postgres_store_process_every_item_exactly_once(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    names = {path.name for path in write_text_files(folder, ITEMS, prefix="pg")}
    invocations = tmp_path / "invocations.log"
    async with cluster(tmp_path / "stack") as stack:
        assert stack.database_url is not None
        workers = [
            stack.worker(
                name,
                module="tests.faults.logging_worker",
                **{INVOCATION_LOG_VARIABLE: str(invocations), WORKER_NAME_VARIABLE: name},
            )
            for name in WORKERS
        ]
        await asyncio.gather(*(worker.start_ready() for worker in workers))

        job = await stack.folder_job(folder, page_size=PAGE_SIZE)
        result = await stack.finished(job, timeout=JOB_TIMEOUT)
        await stack.no_open_workflows(job.id)
        audit = audit_job(stack.db_file, job.id)
        blobs = result_blobs(stack.blob_dir)

    assert result["status"] == "completed"
    # The store: every item completed once, one result each, counters equal statuses.
    audit.check()
    assert audit.count("completed") == ITEMS == audit.results == audit.files
    assert len(blobs) == ITEMS and set(blobs.values()) == {1}
    # The engines: each document ran exactly once, and both workers ran some.
    lines = [line.split() for line in invocations.read_text().splitlines()]
    runs = Counter(document for document, _ in lines)
    assert set(runs) == names
    assert [document for document, count in runs.items() if count > 1] == []
    by_worker = Counter(worker for _, worker in lines)
    assert set(by_worker) == set(WORKERS), f"items per worker: {dict(by_worker)}"

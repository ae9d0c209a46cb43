"""Minimal reproductions of the bugs the fault-injection suite found.

The numbers are those of the findings in ``docs/reliability.md``. The tests of fixed
bugs failed before their fix (1 to 4 in 543d308, 6 and 7 in 8c4196f; finding 5 is
timed by ``test_activity_hang``) and now guard against a regression. An open bug's
test is marked ``xfail(strict=True)``: the suite stays green while the bug is there
and fails (XPASS) once it is fixed, so that the marker is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

import worker as worker_module
from docbatch import service
from docbatch.blobs import BlobStore
from docbatch.engines.base import EngineRequest
from docbatch.engines.pool import EnginePool, EngineTimeoutError
from docbatch.ids import result_id_for
from docbatch.models import ItemStatus, JobType
from docbatch.settings import Settings
from docbatch.store import FileSpec, ResultSpec, Store, utcnow
from docbatch.store.db import Database
from docbatch.store.tables import JobRow
from tests.conftest import StackFactory
from tests.databases import fresh_store_url
from tests.faults.engines import echo_engine, fault_engine, open_gate, started_marker
from tests.faults.harness import Cluster, ManagedProcess, eventually, group_members, items_named
from tests.workflows.helpers import start_folder_job, write_text_files

ENGINE_START_TIMEOUT = 60.0
"""Spawning an engine process imports the engines: seconds on a loaded runner."""


def _request(document: Path) -> EngineRequest:
    return EngineRequest(path=str(document), file_name=document.name, job_type="parse")


async def test_an_item_whose_engine_runs_when_its_job_is_cancelled_ends_cancelled(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    """Finding 1: it ended `failed` ("processing failed after 5 attempts: Cancelled")."""
    folder = tmp_path / "docs"
    folder.mkdir()
    document = folder / "gate-0.txt"
    document.write_text("Its engine runs until the gate opens.\n")
    async with make_stack(engine=fault_engine) as stack:
        try:
            job = await start_folder_job(stack, folder)
            await eventually(
                started_marker(document).exists, timeout=ENGINE_START_TIMEOUT, what="engine runs"
            )
            answer = await service.cancel_job(stack.store, stack.client, job.id)
            (item,), _ = await stack.store.items.list_items(job.id)
            job_row = await stack.store.jobs.get_job(job.id)
        finally:
            open_gate(folder)
    assert answer.status == "cancelled"
    assert (item.status, item.error_message) == ("cancelled", None)
    assert (job_row.failed_items, job_row.cancelled_items) == (0, 1)


async def test_a_stopping_worker_does_not_wait_for_a_hung_engine(tmp_path: Path) -> None:
    """Finding 2: ``worker_resources`` waited for running engines, forever for a hung one."""
    document = tmp_path / "hang.txt"
    document.write_text("This engine never returns.\n")
    settings = Settings(data_dir=tmp_path / "data", engine_processes=1)
    resources_context = worker_module.worker_resources(settings)
    resources = await resources_context.__aenter__()
    run = asyncio.create_task(resources.pool.run(fault_engine, _request(document)))
    closing: asyncio.Task[object] | None = None
    try:
        await eventually(
            started_marker(document).exists, timeout=ENGINE_START_TIMEOUT, what="engine hangs"
        )
        # What Temporal's graceful shutdown does to the activity when its time is up.
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        closing = asyncio.create_task(resources_context.__aexit__(None, None, None))
        done, _ = await asyncio.wait({closing}, timeout=5)
        assert closing in done, "worker_resources still waits for the hung engine after 5 s"
    finally:
        with contextlib.suppress(ProcessLookupError, ValueError, FileNotFoundError):
            os.kill(int(started_marker(document).read_text()), signal.SIGKILL)
        if closing is None:
            await resources_context.__aexit__(None, None, None)
        else:
            await asyncio.wait_for(closing, 60)


async def test_a_document_queued_behind_a_hung_one_is_not_timed_out(tmp_path: Path) -> None:
    """Finding 3: the limit counted the wait for a free process; a timeout killed all."""
    hung_document = tmp_path / "hang.txt"
    hung_document.write_text("This engine never returns.\n")
    document = tmp_path / "ok.txt"
    document.write_text("A quick document.\n")
    pool = EnginePool(1)
    hung = asyncio.create_task(pool.run(fault_engine, _request(hung_document), timeout=6))
    try:
        await eventually(
            started_marker(hung_document).exists,
            timeout=ENGINE_START_TIMEOUT,
            what="engine hangs",
        )
        # Its 3 s should start when an engine process takes it up: once the hung
        # document is stopped at its own limit (6 s).
        try:
            result = await pool.run(fault_engine, _request(document), timeout=3)
        except (Exception, asyncio.CancelledError) as exc:
            raise AssertionError(
                f"a document that never reached an engine process ended with {exc!r}"
            ) from exc
        assert "quick document" in result.content
        with pytest.raises(EngineTimeoutError):
            await hung
    finally:
        hung.cancel()
        pool.kill()


async def test_a_timeout_does_not_kill_the_engines_of_other_documents(tmp_path: Path) -> None:
    """Finding 3: a timeout terminated every engine process of the pool."""
    hung_document = tmp_path / "hang.txt"
    hung_document.write_text("This engine never returns.\n")
    gated_document = tmp_path / "gate.txt"
    gated_document.write_text("This engine finishes when the test says so.\n")
    pool = EnginePool(2)
    gated = asyncio.create_task(pool.run(fault_engine, _request(gated_document), timeout=60))
    hung = asyncio.create_task(pool.run(fault_engine, _request(hung_document), timeout=3))
    try:
        await eventually(
            lambda: (
                started_marker(hung_document).exists() and started_marker(gated_document).exists()
            ),
            timeout=ENGINE_START_TIMEOUT,
            what="both engines run",
        )
        with pytest.raises(EngineTimeoutError):
            await hung
        open_gate(tmp_path)
        try:
            result = await gated
        except Exception as exc:
            raise AssertionError(
                f"a document within its limit ended with {exc!r} when another timed out"
            ) from exc
        assert "finishes when the test says so" in result.content
    finally:
        open_gate(tmp_path)
        for task in (gated, hung):
            task.cancel()
        pool.kill()


_POOL_OWNER = """
import asyncio, sys
from pathlib import Path
from docbatch.engines.base import EngineRequest
from docbatch.engines.pool import EnginePool
from docbatch.engines.registry import run_engine

async def main():
    pool = EnginePool(1)
    path = Path(sys.argv[1])
    await pool.run(run_engine, EngineRequest(path=str(path), file_name=path.name, job_type="parse"))
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_engine_processes_exit_when_their_worker_is_killed(tmp_path: Path) -> None:
    """Finding 4: the pool processes (and the resource tracker) were orphaned."""
    document = tmp_path / "ok.txt"
    document.write_text("A quick document.\n")
    owner = ManagedProcess(
        "pool-owner",
        [sys.executable, "-c", _POOL_OWNER, str(document)],
        env=os.environ,
        log_path=tmp_path / "owner.log",
    )
    owner.start()
    try:
        await owner.wait_log("ready", timeout=ENGINE_START_TIMEOUT)
        pgid = owner.pid
        assert [pid for pid in group_members(pgid) if pid != pgid], "no engine process"
        os.kill(owner.pid, signal.SIGKILL)  # the worker alone, as the OOM killer would
        await asyncio.to_thread(owner.process.wait, 30)  # type: ignore[union-attr]
        try:
            await eventually(lambda: not group_members(pgid), timeout=5, what="orphans exit")
        except TimeoutError:
            raise AssertionError(
                f"engine processes {group_members(pgid)} still run 5 s after their worker died"
            ) from None
    finally:
        owner.reap_group()


async def test_starting_an_engine_process_does_not_count_against_a_time_limit(
    tmp_path: Path,
) -> None:
    """Finding 6: the first document on a new process (at start, or after a timeout
    replaced it) paid the spawn and the engines' imports within its limit: 0.3 s here
    for a trivial engine (1 ms once warm), about 1 s for the parse engine on an idle
    machine, several seconds on a loaded one."""
    document = tmp_path / "ok.txt"
    document.write_text("A quick document.\n")
    pool = EnginePool(1)
    try:
        for when in ("on a fresh engine process", "on the process that replaced it"):
            try:
                result = await pool.run(echo_engine, _request(document), timeout=0.1)
            except EngineTimeoutError as exc:
                raise AssertionError(f"a 1 ms document {when}: {exc}") from exc
            assert "quick document" in result.content
            pool.kill()  # as a timeout does: the next document gets a new process
    finally:
        pool.kill()


async def test_no_result_is_recorded_for_an_item_cancelled_while_its_engine_ran(
    tmp_path: Path,
) -> None:
    """Finding 7: the job is cancelled while an engine runs, then the engine finishes
    and its activity records the result: the item stayed cancelled (right) but got a
    processing result of the cancelled job (seen in the cancel scenarios)."""
    async with fresh_store_url(tmp_path / "store.db") as url:
        await _cancelled_item_gets_no_result(await Store.open(url))


async def _cancelled_item_gets_no_result(store: Store) -> None:
    try:
        directory = await store.directories.create_directory(project_id="proj", name="docs")
        file = await store.directories.put_file(
            directory_id=directory.id,
            project_id="proj",
            spec=FileSpec(
                path="a.txt", size=1, content_hash="c" * 64, storage_location="file:///a.txt"
            ),
        )
        now = utcnow()
        job = JobRow(
            id="bjb-finding-7",
            project_id="proj",
            job_type=JobType.PARSE.value,
            status="running",
            config_json="{}",
            parameters_hash="p" * 64,
            invalidate_cache=False,
            page_size=10,
            continue_as_new_threshold=10,
            max_file_size_bytes=100,
            total_items=1,
            completed_items=0,
            failed_items=0,
            skipped_items=0,
            cancelled_items=0,
            workflow_id="batch-bjb-finding-7",
            temporal_namespace="default",
            created_at=now,
            updated_at=now,
        )
        await store.jobs.create_job(job, [file])
        assert (await store.items.start_item(job.id, file.id))[0] == ItemStatus.PROCESSING
        assert await store.items.cancel_item(job.id, file.id)  # the cancel comes first
        recorded = await store.items.complete_item(  # then the engine's activity finishes
            job.id,
            file.id,
            ResultSpec(
                result_id=result_id_for(job.id, file.id),
                job_type=JobType.PARSE,
                parameters_hash=job.parameters_hash,
                content_hash=file.content_hash,
                output_location="file:///out.json",
                output_metadata={},
            ),
        )
        assert recorded is False
        assert (await store.items.get_item(job.id, file.id)).status == ItemStatus.CANCELLED
        assert [r.result_id for r in await store.items.results_for_item(file.id)] == []
    finally:
        await store.close()


class _FailingWritesDatabase(Database):
    """The store's database, with every write failing at once while ``outage_until`` is
    ahead: a database that refuses connections (a Postgres restart or failover) rather
    than making writers wait like a locked SQLite file."""

    outage_until = 0.0

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        if time.monotonic() < self.outage_until:
            raise OperationalError(
                "BEGIN", None, sqlite3.OperationalError("store unavailable (fault injection)")
            )
        async with super().writing() as session:
            yield session


STORE_OUTAGE_SECONDS = 25.0
"""Longer than the engine activity's retry budget (5 attempts, 1+2+4+8 s of backoff)."""


async def test_items_in_flight_survive_a_store_outage_longer_than_their_retries(
    stack: Cluster, tmp_path: Path
) -> None:
    """Finding 8: ``process_item`` writes to the store with the engine's retry policy
    (5 attempts): while the store refuses writes, each attempt fails at once, and after
    about 15 s the items in flight end ``failed`` ("processing failed after 5 attempts:
    … store unavailable") although their documents are fine."""
    folder = tmp_path / "docs"
    write_text_files(folder, 20, prefix="outage")
    settings = stack.settings(engine_processes=1)
    database = await _FailingWritesDatabase.open(settings.effective_database_url)
    store = Store(database)
    resources = worker_module.WorkerResources(
        store=store,
        blobs=BlobStore(settings.blob_dir),
        pool=EnginePool(1),
        http=httpx.AsyncClient(),
    )
    try:
        async with worker_module.build_worker(stack.client, settings, resources):
            job = await stack.folder_job(folder, page_size=20)
            await eventually(
                lambda: stack.job(job.id)["completed_items"] >= 3,
                timeout=ENGINE_START_TIMEOUT,
                what="items flow",
            )
            database.outage_until = time.monotonic() + STORE_OUTAGE_SECONDS
            await asyncio.sleep(STORE_OUTAGE_SECONDS)  # hold the outage
            await stack.finished(job, timeout=180)
    finally:
        resources.pool.kill()
        await resources.http.aclose()
        await store.close()
    failed = items_named(stack.db_file, job.id, "outage")
    assert [row for row in failed if row[1] != "completed"] == []

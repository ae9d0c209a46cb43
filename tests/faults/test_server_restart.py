"""Fault 2: the Temporal dev server is stopped mid-batch and started again on its database."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.faults.conftest import Scenario
from tests.faults.harness import Cluster, audit_job, engine_attempts, eventually, result_blobs
from tests.faults.report import Figures
from tests.workflows.helpers import write_text_files

ITEMS = 200
PAGE_SIZE = 50
DOWN_SECONDS = 3.0
"""How long the server stays down each time (holding the fault, not synchronising)."""


async def _health_is(http: httpx.AsyncClient, expected: int) -> bool:
    try:
        return (await http.get("/health", timeout=10)).status_code == expected
    except httpx.TransportError:
        return False


async def test_batch_completes_across_temporal_server_restarts(
    scenario: Scenario, stack: Cluster, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    write_text_files(folder, ITEMS, prefix="restart")
    worker = stack.worker("worker")
    await worker.start_ready()
    api_port = free_port()
    api = stack.api(api_port, key="fault-key")
    api.start()
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}")
    try:
        await eventually(lambda: _health_is(http, 200), timeout=60, what="the API answers /health")
        job = await stack.folder_job(folder, page_size=PAGE_SIZE)
        restarts = []
        for how, after in ((signal.SIGTERM, 30), (signal.SIGKILL, 120)):
            await eventually(
                lambda after=after: stack.job(job.id)["completed_items"] >= after,
                timeout=120,
                what=f"{after} items completed",
            )
            if how == signal.SIGKILL:
                await stack.server.kill_group()
            else:
                assert await stack.server.stop(how) == 0, stack.server.log_text()[-2000:]
            stopped_at = stack.job(job.id)["completed_items"]
            assert stopped_at < ITEMS, "the batch ended before the server was stopped"
            await eventually(lambda: _health_is(http, 503), timeout=30, what="/health says 503")
            await asyncio.sleep(DOWN_SECONDS)  # hold the outage
            assert worker.alive(), f"the worker died with the server:\n{worker.log_text()}"
            await stack.server.start_and_connect()
            restarts.append((how.name, stopped_at))
            # The same worker process (never restarted) picks the batch up again.
            await eventually(
                lambda stopped_at=stopped_at: (
                    stack.job(job.id)["completed_items"] > stopped_at
                    or stack.job(job.id)["status"] == "completed"
                ),
                timeout=90,
                what="progress after the restart",
            )
            await eventually(lambda: _health_is(http, 200), timeout=30, what="/health is 200 again")
        result = await stack.finished(job, timeout=240)
        await stack.no_open_workflows(job.id)
    finally:
        await http.aclose()

    assert worker.starts == 1 and worker.alive()
    assert api.starts == 1 and api.alive()
    assert result["status"] == "completed"
    audit = audit_job(stack.db_file, job.id)
    audit.check()
    assert audit.count("completed") == ITEMS == audit.results
    blobs = result_blobs(stack.blob_dir)
    assert len(blobs) == ITEMS and set(blobs.values()) == {1}
    attempts = await engine_attempts(stack.client, job.id, list(blobs))
    scenario.record(
        Figures.of(
            "server-restart",
            "Temporal server restarted",
            faults=len(restarts),
            fault=f"dev server stopped (SIGTERM, then SIGKILL), down {DOWN_SECONDS:g} s, "
            "restarted on the same `--db-filename` and port",
            audit=audit,
            duplicated=len(audit.duplicated) + sum(1 for n in blobs.values() if n > 1),
            re_executed=sum(1 for attempt in attempts.values() if attempt > 1),
            seconds=scenario.elapsed,
            notes="stopped at "
            + ", ".join(f"{done} completed ({name})" for name, done in restarts)
            + "; the same worker and API processes reconnected by themselves",
        )
    )

"""Status reads under load: latency of ``GET /api/v1/beta/batch-processing/{job_id}``.

    .venv/bin/python bench/status_latency.py [--items 10000] [--smoke]

On the persistent, tuned dev server with a benchmark worker process (no-op engine) and
the HTTP API in its own process (``python -m docbatch.api``, uvicorn): first a small job
runs to completion and its status is read ``--idle-requests`` times with nothing else
running (the baseline); then a job over N small generated files starts and its status is
read every ``--interval`` seconds (one request at a time, keep-alive) until the API says
it ended. Figures: p50 and p99 under load (target p99 ≤ 50 ms), the idle p50/p99 and
p99(load) ÷ p99(idle).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx

from bench import harness
from docbatch.models import JobStatus
from docbatch.store import Store

TARGET_P99_MS = 50.0
SMOKE_ITEMS = 60
WARM_UP_ITEMS = 10
UNCOUNTED_READS = 5
_TERMINAL = {s.value for s in JobStatus if s.is_terminal}


async def _get(http: httpx.AsyncClient, job_id: str) -> tuple[float, int, str]:
    started = time.perf_counter()
    response = await http.get(f"/api/v1/beta/batch-processing/{job_id}")
    elapsed = time.perf_counter() - started
    status = response.json()["job"]["status"] if response.status_code == 200 else "?"
    return elapsed, response.status_code, status


async def main(arguments: argparse.Namespace) -> int:
    """Measure idle, then under load, and report."""
    items = SMOKE_ITEMS if arguments.smoke else arguments.items
    idle_requests = 50 if arguments.smoke else arguments.idle_requests
    with harness.workdir(arguments) as tmp:
        settings = harness.bench_settings(tmp / "data", **harness.smoke_overrides(arguments))
        harness.write_small_files(tmp / "warm-up", WARM_UP_ITEMS, tag="warm-up-")
        harness.write_small_files(tmp / "files", items)
        async with harness.dev_server(settings) as server:
            client = server.client
            store = await Store.open(settings.effective_database_url)
            try:
                warm_up_id = await harness.register(store, tmp / "warm-up")
                directory_id = await harness.register(store, tmp / "files")
                async with (
                    harness.worker_process(settings, "noop"),
                    harness.api_process(settings) as api,
                    httpx.AsyncClient(base_url=api.base_url, headers=api.headers) as http,
                ):
                    warm_up = await harness.run_job(store, client, settings, warm_up_id)
                    for _ in range(UNCOUNTED_READS):  # first connection, first queries
                        await _get(http, warm_up.job.id)
                    idle = [await _get(http, warm_up.job.id) for _ in range(idle_requests)]
                    job = await harness.create_job(store, client, settings, directory_id)
                    loaded: list[tuple[float, int, str]] = []
                    started = time.perf_counter()
                    deadline = started + harness.deadline(items)
                    while not loaded or loaded[-1][2] not in _TERMINAL:
                        if time.perf_counter() > deadline:
                            raise TimeoutError(f"job {job.id} did not end in time")
                        loaded.append(await _get(http, job.id))
                        await asyncio.sleep(arguments.interval)
                    wall = time.perf_counter() - started
                    await client.get_workflow_handle(job.workflow_id).result()
                final = await store.jobs.get_job(job.id)
            finally:
                await store.close()

    idle_ms = [1000 * t for t, _, _ in idle]
    load_ms = [1000 * t for t, _, _ in loaded]
    print(
        f"job: {items} items, {final.completed_items} completed, {final.status}, "
        f"{wall:.1f} s; {len(loaded)} status reads"
    )
    report = harness.Report(
        key="status_latency",
        title="6. Status reads under load",
        parameters={
            "items": items,
            "engine": "noop",
            "interval": f"{arguments.interval:g} s",
            "reads under load": len(loaded),
            "idle reads": len(idle),
        },
    )
    p99_load = harness.percentile(load_ms, 99)
    p99_idle = harness.percentile(idle_ms, 99)
    report.add(harness.at_most("p99 under load", p99_load, TARGET_P99_MS, "ms"))
    report.add(harness.Figure("p50 under load", harness.percentile(load_ms, 50), "ms"))
    report.add(harness.Figure("max under load", max(load_ms), "ms"))
    report.add(harness.Figure("p50 idle (baseline)", harness.percentile(idle_ms, 50), "ms"))
    report.add(harness.Figure("p99 idle (baseline)", p99_idle, "ms"))
    report.add(harness.Figure("p99 under load ÷ p99 idle", p99_load / p99_idle))
    report.add(harness.Figure("batch rate while being read", items / wall, "items/s"))
    report.check("every read answered 200", all(code == 200 for _, code, _ in idle + loaded))
    report.check(
        f"job completed all {items}",
        final.status == JobStatus.COMPLETED.value and final.completed_items == items,
    )
    report.check("reads spanned the run", len(loaded) >= 2)
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between reads")
    parser.add_argument("--idle-requests", type=int, default=200)
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))

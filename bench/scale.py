"""Scale: batches of 10,000 and 100,000 generated small files, no-op engine.

    .venv/bin/python bench/scale.py [--items 10000 100000] [--smoke]

Each size runs on its own fresh persistent, tuned dev server with its own benchmark
worker process (``worker.build_worker`` with the no-op engine ``bench.engines.
noop_engine``: the files are not parsed, so this measures docbatch, not the parser).
Reported per size: wall time and rate, the parent workflow's history length per run
(max over the continue-as-new chain; target ≤ 4,000 events), the worker process's peak
RSS (VmHWM; target ≤ 300 MB) and its RSS growth from 10 % of the items to the end, the
engine processes' peak RSS (separately), and time(largest) ÷ time(smallest) against
the size ratio (target ≤ 1.1 × the size ratio, i.e. ≤ 11 for 10k → 100k).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import harness
from docbatch.settings import Settings
from docbatch.store import Store

TARGET_HISTORY = 4000
TARGET_RSS_MB = 300.0
LINEARITY = 1.1
SMOKE_SIZES = [10, 20]
SAMPLE_EVERY = 1.0


@dataclass
class Memory:
    """RSS samples of the worker while a job runs: (fraction of items done, MB)."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def growth(self) -> float:
        """RSS at the end minus RSS once 10 % of the items were done (MB)."""
        after_warm_up = [mb for done, mb in self.samples if done >= 0.1]
        if len(after_warm_up) < 2:
            return 0.0
        return after_warm_up[-1] - after_warm_up[0]


@contextlib.asynccontextmanager
async def sampling(store: Store, job_id: list[str], pid: int) -> AsyncIterator[Memory]:
    """Sample the worker's RSS and the job's progress every second while the block runs."""
    memory = Memory()

    async def sample() -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY)
            if not job_id:
                continue
            job = await store.jobs.get_job(job_id[0])
            ended = job.completed_items + job.failed_items + job.skipped_items
            done = ended / job.total_items if job.total_items else 0.0
            memory.samples.append((done, harness.status_mb(pid, "VmRSS")))

    task = asyncio.create_task(sample())
    try:
        yield memory
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class SizeResult:
    """The figures of one batch size."""

    items: int
    run: harness.JobRun
    histories: list[int]
    children: int
    worker_peak_mb: float
    worker_growth_mb: float
    engine_peaks_mb: list[float]
    registering: float


async def run_size(items: int, root: Path, overrides: dict[str, Any]) -> SizeResult:
    """Generate, register and run one batch of ``items`` on a fresh stack."""
    settings = harness.bench_settings(root / f"data-{items}", **overrides)
    folder = root / f"files-{items}"
    harness.write_small_files(folder, items, tag=f"{items}-")
    async with harness.dev_server(settings) as server:
        store = await Store.open(settings.effective_database_url)
        try:
            started = time.perf_counter()
            directory_id = await harness.register(store, folder)
            registering = time.perf_counter() - started
            async with harness.worker_process(settings, "noop") as worker:
                job_id: list[str] = []
                async with sampling(store, job_id, worker.pid) as memory:
                    run = await _run(store, server, settings, directory_id, job_id)
                worker_peak = harness.status_mb(worker.pid, "VmHWM")
                engine_peaks = [harness.status_mb(pid, "VmHWM") for pid in worker.engine_pids()]
            chain = await harness.run_chain(server.client, run.job.workflow_id)
        finally:
            await store.close()
    result = SizeResult(
        items=items,
        run=run,
        histories=[len(h.events) for h in chain],
        children=harness.children_started(chain),
        worker_peak_mb=worker_peak,
        worker_growth_mb=memory.growth(),
        engine_peaks_mb=engine_peaks,
        registering=registering,
    )
    print(
        f"{items} items: {run.counts()}; {run.wall:.1f} s = {run.rate:.1f} items/s; parent "
        f"history max {max(result.histories)} over {len(result.histories)} runs; worker peak "
        f"RSS {worker_peak:.0f} MB (growth after 10 %: {result.worker_growth_mb:+.1f} MB); "
        f"engine processes {', '.join(f'{mb:.0f}' for mb in engine_peaks)} MB"
    )
    return result


async def _run(
    store: Store,
    server: harness.Server,
    settings: Settings,
    directory_id: str,
    job_id: list[str],
) -> harness.JobRun:
    # As harness.run_job, but the sampler learns the job id as soon as it exists.
    started = time.perf_counter()
    job = await harness.create_job(store, server.client, settings, directory_id)
    job_id.append(job.id)
    total = await store.directories.count_files(directory_id)
    await asyncio.wait_for(
        server.client.get_workflow_handle(job.workflow_id).result(), harness.deadline(total)
    )
    wall = time.perf_counter() - started
    return harness.JobRun(job=await store.jobs.get_job(job.id), wall=wall)


async def main(arguments: argparse.Namespace) -> int:
    """Run every size, smallest first, and report."""
    sizes = sorted(SMOKE_SIZES if arguments.smoke else arguments.items)
    with harness.workdir(arguments) as tmp:
        overrides = harness.smoke_overrides(arguments)
        results = [await run_size(items, Path(tmp), overrides) for items in sizes]

    report = harness.Report(
        key="scale",
        title="4. Scale (generated small files, no-op engine)",
        parameters={"items": " and ".join(str(n) for n in sizes), "engine": "noop"},
    )
    for result in results:
        n = result.items
        report.add(harness.Figure(f"{n} items: wall", result.run.wall, "s"))
        report.add(harness.Figure(f"{n} items: rate", result.run.rate, "items/s"))
        report.add(
            harness.at_most(
                f"{n} items: parent history per run (max)", max(result.histories), TARGET_HISTORY
            )
        )
        report.add(harness.Figure(f"{n} items: parent runs", len(result.histories)))
        report.add(
            harness.at_most(
                f"{n} items: worker peak RSS", round(result.worker_peak_mb, 1), TARGET_RSS_MB, "MB"
            )
        )
        report.add(
            harness.Figure(
                f"{n} items: worker RSS growth after 10 % of items",
                round(result.worker_growth_mb, 1),
                "MB",
            )
        )
        report.add(
            harness.Figure(
                f"{n} items: engine processes' peak RSS (each)",
                " / ".join(f"{mb:.0f}" for mb in result.engine_peaks_mb),
                "MB",
            )
        )
        report.check(f"{n} items: all completed", harness.job_completed(result.run, completed=n))
        report.check(f"{n} items: one child per item", result.children == n)
    if len(results) >= 2:
        small, large = results[0], results[-1]
        size_ratio = large.items / small.items
        report.add(
            harness.at_most(
                f"time({large.items}) ÷ time({small.items})",
                large.run.wall / small.run.wall,
                round(LINEARITY * size_ratio, 2),
            )
        )
    report.notes.append(
        "Each size on a fresh stack; registering the folder (hashing every file) is not "
        "timed: " + ", ".join(f"{r.items} items {r.registering:.1f} s" for r in results) + "."
    )
    report.notes.append(
        "Worker = the `bench/bench_worker.py` process (docbatch's worker plus the idle "
        "baselines' worker); engine processes are its children (the spawned pool processes)."
    )
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))

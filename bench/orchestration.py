"""Orchestration throughput: docbatch's no-op items/s against two baselines, same server.

    .venv/bin/python bench/orchestration.py [--items 1000] [--profile [--profile-dir DIR]] [--smoke]

On the persistent, tuned dev server (``make up``'s command) and then on the in-memory
dev server, each with one benchmark worker process (``worker.build_worker`` with a
no-op engine, plus the baselines' worker), this runs the same N items three ways:

- **docbatch**: a parse job over N small generated files (distinct content), child
  workflow per item, the engine returns at once (``bench.engines.noop_engine``);
- **bare child ceiling**: a bench-only parent starting one child per item in a sliding
  window of docbatch's ``max_concurrent_children``, the child returning at once;
- **plain activities**: one workflow running N no-op activities, same window.

Figures: docbatch ÷ bare child in items/s (target ≥ 0.8) and in server + worker CPU per
item (target ≤ 1.15), all three rates, the CPU each process used per item and how much
of it is above the bare child's, and the history events per item of both (a sample of
children). ``--profile`` adds one more docbatch run on the persistent server with py-spy
recording the worker (not counted in the other figures) and splits the worker's CPU per
item by component, in proportion to py-spy's Python samples (it cannot see into the SDK's
Rust core or uvloop's C code); ``--profile-dir`` keeps py-spy's raw stacks and the full
summary there.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from temporalio.client import Client

from bench import harness, profiling
from bench.baseline_workflows import (
    BareChildParentWorkflow,
    BaselineInput,
    BaselineResult,
    EmptyChildWorkflow,
    PlainActivitiesWorkflow,
)
from bench.bench_worker import BASELINE_SUFFIX
from docbatch.ids import parent_workflow_id
from docbatch.settings import Settings
from docbatch.store import Store
from workflows.batch_item import BatchItemWorkflow

TARGET_RATIO = 0.8
TARGET_CPU_RATIO = 1.15
SMOKE_ITEMS = 10


@dataclass
class Phase:
    """One way of running the items: its rate and the CPU each process used."""

    name: str
    items: int
    wall: float
    cpu: dict[str, float]
    ok: bool
    events: Events | None = None

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.items / self.wall

    def cpu_total(self) -> float:
        """CPU seconds per item, all measured processes together."""
        return sum(self.cpu.values()) / self.items

    def cpu_per_item(self) -> str:
        """Milliseconds of CPU per item, by process."""
        return ", ".join(f"{k} {1000 * v / self.items:.1f}" for k, v in self.cpu.items())

    def ms_per_item(self, process: str) -> float:
        """Milliseconds of one process's CPU per item."""
        return 1000 * self.cpu[process] / self.items


@dataclass
class Events:
    """History events per item: the parent's (all its runs) and a child's (sampled)."""

    parent: float
    child: float

    @property
    def total(self) -> float:
        return self.parent + self.child

    def shown(self) -> str:
        return f"{self.total:.1f} ({self.parent:.1f} parent + {self.child:.1f} child)"


CHILD_SAMPLE = 50
"""Child histories read per phase to count events per child."""


async def _events(client: Client, parent_id: str, child_query: str, items: int) -> Events:
    """Events per item of a finished phase: its parent chain's, then a sample of children."""
    parent = sum(len(h.events) for h in await harness.run_chain(client, parent_id))
    sizes = [
        len((await client.get_workflow_handle(child.id).fetch_history()).events)
        async for child in client.list_workflows(child_query, limit=CHILD_SAMPLE)
    ]
    return Events(parent=parent / items, child=sum(sizes) / max(1, len(sizes)))


async def _measured(
    name: str, items: int, pids: dict[str, int], run: Callable[[], Awaitable[bool]]
) -> Phase:
    with harness.CpuMeter(pids) as meter:
        started = time.perf_counter()
        ok = await run()
        wall = time.perf_counter() - started
    phase = Phase(name, items, wall, meter.used, ok)
    print(
        f"  {name:<17} {items} items in {wall:6.1f} s = {phase.rate:6.1f} items/s  "
        f"(CPU ms/item: {phase.cpu_per_item()}){'' if ok else '  CHECK FAILED'}"
    )
    return phase


async def _baseline(
    client: Client,
    run: Callable[..., Awaitable[BaselineResult]],
    items: int,
    window: int,
    tq: str,
    workflow_id: str,
) -> bool:
    result = await client.execute_workflow(
        run, BaselineInput(items=items, window=window), id=workflow_id, task_queue=tq
    )
    return result.done == items


@dataclass
class ServerFigures:
    """The three phases on one server."""

    kind: str
    bare: Phase
    docbatch: Phase
    activities: Phase
    profile: profiling.Profile | None = None
    profiled_worker_seconds: float = 0.0
    """The worker's CPU during the profiled run (py-spy samples from its own process)."""

    @property
    def ratio(self) -> float:
        """docbatch ÷ bare child ceiling."""
        return self.docbatch.rate / self.bare.rate


async def measure(
    items: int,
    root: Path,
    *,
    persistent: bool,
    profile_dir: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> ServerFigures:
    """Run the three phases (and the optional profiled run) on a fresh dev server."""
    name = "persistent" if persistent else "memory"
    settings = harness.bench_settings(root / name, **(overrides or {}))
    folders = [root / name / "files", root / name / "files-profiled"]
    harness.write_small_files(folders[0], items, tag=f"{name}-")
    if profile_dir is not None:
        harness.write_small_files(folders[1], items, tag=f"{name}-profiled-")
    async with harness.dev_server(settings, persistent=persistent) as server:
        print(f"{server.kind} dev server, {items} items, window {settings.max_concurrent_children}")
        store = await Store.open(settings.effective_database_url)
        try:
            directories = [await harness.register(store, folders[0])]
            if profile_dir is not None:
                directories.append(await harness.register(store, folders[1]))
            async with harness.worker_process(settings, "noop") as worker:
                figures = await _phases(server, store, settings, worker, directories, items)
                if profile_dir is not None:
                    raw = profile_dir / f"orchestration-{name}-worker.raw.txt"
                    with harness.CpuMeter({"worker": worker.pid}) as meter:
                        async with profiling.recording(worker.pid, raw) as profile:
                            run = await harness.run_job(
                                store, server.client, settings, directories[1]
                            )
                    print(f"  profiled docbatch run: {run.counts()}, {run.rate:.1f} items/s")
                    figures.profile = profile
                    figures.profiled_worker_seconds = meter.used["worker"]
                return figures
        finally:
            await store.close()


async def _phases(
    server: harness.Server,
    store: Store,
    settings: Settings,
    worker: harness.WorkerProcess,
    directories: list[str],
    items: int,
) -> ServerFigures:
    client = server.client
    window = settings.max_concurrent_children
    baseline_queue = settings.task_queue + BASELINE_SUFFIX
    pids = {"server": server.pid, "worker": worker.pid}

    jobs: list[str] = []

    async def docbatch() -> bool:
        run = await harness.run_job(store, client, settings, directories[0])
        jobs.append(run.job.id)
        print(f"  docbatch job: {run.counts()}")
        return harness.job_completed(run, completed=items)

    bare_id = f"bench-baseline-{uuid.uuid4().hex[:8]}"
    bare = await _measured(
        "bare child",
        items,
        pids,
        lambda: _baseline(
            client, BareChildParentWorkflow.run, items, window, baseline_queue, bare_id
        ),
    )
    bare.events = await _events(
        client, bare_id, f'WorkflowType="{EmptyChildWorkflow.__name__}"', items
    )
    ours = await _measured("docbatch", items, pids, docbatch)
    ours.events = await _events(
        client,
        parent_workflow_id(jobs[0]),
        f'DocbatchJobId="{jobs[0]}" AND WorkflowType="{BatchItemWorkflow.__name__}"',
        items,
    )
    plain = await _measured(
        "plain activities",
        items,
        pids,
        lambda: _baseline(
            client,
            PlainActivitiesWorkflow.run,
            items,
            window,
            baseline_queue,
            f"bench-baseline-{uuid.uuid4().hex[:8]}",
        ),
    )
    return ServerFigures(kind=server.kind, bare=bare, docbatch=ours, activities=plain)


async def main(arguments: argparse.Namespace) -> int:
    """Measure on both servers and write the report."""
    items = SMOKE_ITEMS if arguments.smoke else arguments.items
    report = harness.Report(
        key="orchestration",
        title="2. Orchestration throughput (no-op engine)",
        parameters={"items": items, "engine": "noop", "window": Settings().max_concurrent_children},
    )
    with harness.workdir(arguments) as tmp:
        profile_dir = None
        if arguments.profile:
            profile_dir = arguments.profile_dir or tmp / "profile"
        overrides = harness.smoke_overrides(arguments)
        persistent = await measure(
            items, tmp, persistent=True, profile_dir=profile_dir, overrides=overrides
        )
        memory = await measure(items, tmp, persistent=False, overrides=overrides)
    for figures in (persistent, memory):
        kind = figures.kind
        report.add(harness.at_least(f"docbatch ÷ bare child, {kind}", figures.ratio, TARGET_RATIO))
        report.add(harness.Figure(f"docbatch, {kind}", figures.docbatch.rate, "items/s"))
        report.add(harness.Figure(f"bare child ceiling, {kind}", figures.bare.rate, "items/s"))
        report.add(harness.Figure(f"plain activities, {kind}", figures.activities.rate, "items/s"))
        report.add(
            harness.Figure(
                f"docbatch ÷ plain activities, {kind}",
                figures.docbatch.rate / figures.activities.rate,
            )
        )
        ours, bare = figures.docbatch, figures.bare
        report.add(
            harness.at_most(
                f"CPU per item (server + worker), docbatch ÷ bare child, {kind}",
                ours.cpu_total() / bare.cpu_total(),
                TARGET_CPU_RATIO,
            )
        )
        for process in ("server", "worker"):
            report.add(
                harness.Figure(
                    f"{process} CPU per item above the bare child's, {kind}",
                    ours.ms_per_item(process) - bare.ms_per_item(process),
                    "ms",
                )
            )
        if ours.events is not None and bare.events is not None:
            report.notes.append(
                f"History events per item, {kind}: docbatch {ours.events.shown()}, bare child "
                f"{bare.events.shown()}; server CPU per event: docbatch "
                f"{ours.ms_per_item('server') / ours.events.total:.2f} ms, bare child "
                f"{bare.ms_per_item('server') / bare.events.total:.2f} ms."
            )
        for phase in (figures.bare, figures.docbatch, figures.activities):
            report.check(f"{phase.name} {kind}: all {items} items done", phase.ok)
            report.notes.append(f"CPU ms/item, {phase.name}, {kind}: {phase.cpu_per_item()}")
    report.notes.append(
        "CPU seconds per item are less sensitive than wall time to other work on the "
        "machine; where both sides are CPU-bound, docbatch ÷ bare child tends to 1 ÷ the "
        "CPU ratio."
    )
    report.notes.append(
        "Each server is fresh (data dir and SQLite store); one worker process "
        f"(`bench/bench_worker.py`, {os.cpu_count()} engine processes, started before timing) "
        "serves all three phases; phases run bare child → docbatch → plain activities."
    )
    profile = persistent.profile
    if profile is not None:
        if profile.summary is not None:
            summary = profile.summary
            print(f"\nworker profile (docbatch no-op run, {persistent.kind}):")
            print(summary.top(20))
            if arguments.profile_dir is not None:  # else the profile went with the workdir
                top = arguments.profile_dir / "orchestration-worker-top.txt"
                top.write_text(summary.top(60) + "\n")
            for name, milliseconds in _worker_breakdown(persistent, summary, items):
                report.add(harness.Figure(name, milliseconds, "ms"))
            report.notes.append(
                "Top self functions of the worker (py-spy, on-CPU Python): "
                + "; ".join(
                    f"`{name}` {summary.share(n).strip()}"
                    for name, n in summary.self_samples.most_common(6)
                )
            )
        else:
            report.notes.append(f"py-spy: {profile.error}")
    return harness.finish(report, arguments)


def _worker_breakdown(
    figures: ServerFigures, summary: profiling.ProfileSummary, items: int
) -> list[tuple[str, float]]:
    """Where the worker's milliseconds per item go in the profiled docbatch run: its CPU
    per item split by each component's share of py-spy's on-CPU Python samples.

    py-spy samples Python threads only, so the SDK's Rust core (its own threads) is spread
    over the components in proportion; the split says where the Python time goes.
    """
    total = 1000 * figures.profiled_worker_seconds / items
    rows = [(f"worker CPU per item, profiled run, {figures.kind}", total)]
    for name, count in summary.components.most_common(8):
        rows.append(
            (
                f"… {name} ({summary.share(count).strip()} of Python samples)",
                total * count / max(1, summary.on_cpu),
            )
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument(
        "--profile", action="store_true", help="also profile the worker with py-spy"
    )
    parser.add_argument("--profile-dir", type=Path, default=None, help="keep the profile here")
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))

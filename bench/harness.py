"""What every benchmark shares: the dev server (persistent as ``make up`` runs it, or in
memory), a worker process, jobs over folders, process measurements and the report.

The benchmarks import docbatch (``docbatch.stack.dev_server_command``, ``worker.
build_worker``, ``docbatch.service``) rather than copy it, so they measure whatever
code is checked out.

The parts: ``bench.stack`` (settings; the dev server, worker and API processes),
``bench.measurements`` (CPU, memory and processes from ``/proc``; percentiles, a
stopwatch), ``bench.report`` (figures, checks, the sections of ``RESULTS.md``); this
module runs jobs and holds what every benchmark's ``main`` does (options, working
directory, running, finishing). The benchmarks import all of it from here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from bench.measurements import CpuMeter, percentile, status_mb, stopwatch
from bench.report import RESULTS_HEADER, Figure, Report, at_least, at_most, write_section
from bench.stack import (
    PROJECT_ID,
    ROOT,
    Server,
    WorkerProcess,
    api_process,
    bench_settings,
    dev_server,
    settings_env,
    user_worker_process,
    worker_process,
)
from docbatch import service
from docbatch.models import BatchCreateRequest, JobStatus
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.tables import JobRow

__all__ = [
    "CORPUS",
    "PROJECT_ID",
    "RESULTS_HEADER",
    "ROOT",
    "CpuMeter",
    "Figure",
    "JobRun",
    "Report",
    "Server",
    "WorkerProcess",
    "api_process",
    "at_least",
    "at_most",
    "bench_settings",
    "children_started",
    "common_arguments",
    "create_job",
    "deadline",
    "dev_server",
    "finish",
    "job_completed",
    "percentile",
    "register",
    "run_chain",
    "run_job",
    "run_main",
    "settings_env",
    "smoke_overrides",
    "status_mb",
    "stopwatch",
    "user_worker_process",
    "workdir",
    "worker_process",
    "write_section",
    "write_small_files",
]

CORPUS = ROOT.parent / "shared" / "corpus" / "documents"
RESULTS = ROOT / "bench" / "RESULTS.md"

# ------------------------------------------------------------------------- jobs


def write_small_files(folder: Path, count: int, *, tag: str = "") -> None:
    """``count`` small text files with distinct content (so dedup does not apply)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        name = f"doc-{index:06d}.txt"
        (folder / name).write_text(f"Document {tag}{index}\n\nBody of document {tag}{index}.\n")


async def register(store: Store, folder: Path) -> str:
    """Register a folder as a directory (as ``starter.py run`` does); return its id."""
    registered = await service.register_local_folder(store, folder, project_id=PROJECT_ID)
    return registered.directory.id


async def create_job(
    store: Store,
    client: Client,
    settings: Settings,
    directory_id: str,
    job_config: dict[str, Any] | None = None,
) -> JobRow:
    """Create a job over a directory through ``docbatch.service`` (starts its workflow)."""
    request = BatchCreateRequest.model_validate(
        {"job_config": job_config or {}, "directory_id": directory_id}
    )
    return await service.create_job(store, client, settings, request, project_id=PROJECT_ID)


@dataclass
class JobRun:
    """A finished job: its final row and the wall time from create to the workflow result."""

    job: JobRow
    wall: float

    @property
    def rate(self) -> float:
        """Items per second."""
        return self.job.total_items / self.wall if self.wall > 0 else math.nan

    def counts(self) -> str:
        """The job's outcome counts in one line."""
        job = self.job
        return (
            f"{job.total_items} items: {job.completed_items} completed, {job.failed_items} "
            f"failed, {job.skipped_items} skipped, {job.cancelled_items} cancelled ({job.status})"
        )


async def run_job(
    store: Store,
    client: Client,
    settings: Settings,
    directory_id: str,
    job_config: dict[str, Any] | None = None,
) -> JobRun:
    """Create a job and wait for its parent workflow's result; time both.

    Gives up (``TimeoutError``) past ``deadline(total items)``: a broken checkout must
    fail the benchmark, not hang it.
    """
    started = time.perf_counter()
    job = await create_job(store, client, settings, directory_id, job_config)
    handle = client.get_workflow_handle(job.workflow_id)
    limit = deadline(
        (await store.jobs.get_job(job.id)).total_items
        or await store.directories.count_files(directory_id)
    )
    try:
        await asyncio.wait_for(handle.result(), limit)
    except TimeoutError:
        row = await store.jobs.get_job(job.id)
        raise TimeoutError(
            f"job {job.id} not finished after {limit:.0f} s ({row.status}, "
            f"{row.completed_items} of {row.total_items} completed): see the worker's log"
        ) from None
    wall = time.perf_counter() - started
    return JobRun(job=await store.jobs.get_job(job.id), wall=wall)


def deadline(items: int) -> float:
    """How long a job of ``items`` may take before a benchmark gives up (≥ 5 items/s)."""
    return 120.0 + items / 5


def job_completed(run: JobRun, *, completed: int, skipped: int = 0) -> bool:
    """The job ended ``completed`` with exactly these counts and nothing else."""
    job = run.job
    return (
        job.status == JobStatus.COMPLETED.value
        and job.total_items == completed + skipped
        and job.completed_items == completed
        and job.skipped_items == skipped
        and job.failed_items == 0
        and job.cancelled_items == 0
    )


async def run_chain(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """The histories of every run of a workflow's continue-as-new chain, first run first."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return list(reversed(histories))
        run_id = started.continued_execution_run_id


def children_started(histories: Sequence[WorkflowHistory]) -> int:
    """How many child workflows (any type) a chain of runs started."""
    initiated = EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    return sum(1 for h in histories for event in h.events if event.event_type == initiated)


# ------------------------------------------------------------------------- main


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--smoke``, ``--results`` and ``--json``, shared by every benchmark."""
    parser.add_argument(
        "--smoke", action="store_true", help="tiny N, to check the benchmark still runs"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help=f"Markdown file to update (default {RESULTS.relative_to(ROOT)}; none with --smoke)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep data, logs and files here (default: a temporary directory, removed)",
    )


def smoke_overrides(arguments: argparse.Namespace) -> dict[str, Any]:
    """Settings of a smoke run: one engine process (starting engines is most of its time)."""
    return {"engine_processes": 1} if arguments.smoke else {}


@contextlib.contextmanager
def workdir(arguments: argparse.Namespace) -> Iterator[Path]:
    """The benchmark's working directory: ``--workdir`` (kept) or a temporary one."""
    if arguments.workdir is not None:
        arguments.workdir.mkdir(parents=True, exist_ok=True)
        yield arguments.workdir.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="docbatch-bench-") as tmp:
        yield Path(tmp)


def run_main(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, with SIGTERM cancelling it like Ctrl-C does.

    Cancelling runs every ``finally``, so the dev server, worker and API processes a
    benchmark started (each in its own session) are stopped, not left behind.
    """

    async def cancellable() -> int:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        return asyncio.run(cancellable())
    except asyncio.CancelledError:
        print("stopped", file=sys.stderr)
        return 128 + signal.SIGTERM


def finish(report: Report, arguments: argparse.Namespace) -> int:
    """Print the report, write it where asked; exit status 1 if an invariant failed."""
    print()
    print(report.markdown())
    results = arguments.results or (None if arguments.smoke else RESULTS)
    if results is not None:
        write_section(results, report)
        print(f"written to {results}")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(report.as_json(), indent=2))
    return 0 if report.ok else 1

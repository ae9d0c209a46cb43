"""Cancel latency: from the cancel call to the job reading ``cancelled`` in the store.

    .venv/bin/python bench/cancel.py [--children 100] [--trials 5] [--smoke]

On the persistent, tuned dev server with a benchmark worker process whose engine sleeps
(``bench.engines.sleep_engine``, 30 s) and the HTTP API in its own process: each trial
registers a fresh folder of ``children + 20`` files, creates a job, waits until the
parent reports ``children`` child workflows in flight (its ``progress`` query), then
cancels, alternately through ``docbatch.service.cancel_job`` and through
``POST /api/v1/beta/batch-processing/{job_id}/cancel``, while polling the store every
10 ms. Figures: median and max of the time until the store reads ``cancelled`` (target
≤ 2 s), and until the cancel call returned; the round trip of a ``progress`` query just
before each cancel is the baseline of the server's responsiveness.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: import the repository, not bench/, first
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client

from bench import harness
from bench.engines import SLEEP_SECONDS_ENV
from docbatch import service
from docbatch.models import ItemStatus, JobStatus
from docbatch.settings import Settings
from docbatch.store import Store
from workflows.batch_parent import BatchParentWorkflow

TARGET_SECONDS = 2.0
EXTRA_FILES = 20
POLL_SECONDS = 0.01
ENGINE_SLEEP_SECONDS = 30
SMOKE_CHILDREN = 5
WORKFLOW_END_SECONDS = 30.0
SMOKE_WORKFLOW_END_SECONDS = 10.0
CANCEL_LIMIT_SECONDS = 60.0
SMOKE_TRIALS = 2
_OPEN_ITEM_STATUSES = {ItemStatus.PENDING.value, ItemStatus.PROCESSING.value}


@dataclass
class Trial:
    """One cancellation: how it was called and how long each step took."""

    method: str
    in_flight: int
    to_store: float
    to_return: float
    query_round_trip: float
    status: str
    open_items: int
    counts_add_up: bool
    error: str | None
    workflow_status: str
    task_failures: list[str]


async def _in_flight(client: Client, workflow_id: str, wanted: int) -> tuple[int, float]:
    """Wait until the parent has ``wanted`` children in flight; return it and a query's time."""
    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, workflow_id)
    deadline = time.monotonic() + harness.deadline(wanted)
    while True:
        started = time.perf_counter()
        try:
            progress = await handle.query(BatchParentWorkflow.progress)
        except Exception:  # not started yet: the first workflow task has not run
            progress = None
        round_trip = time.perf_counter() - started
        if progress is not None and progress.in_flight >= wanted:
            return progress.in_flight, round_trip
        if time.monotonic() > deadline:
            raise TimeoutError(f"{wanted} children never in flight ({progress})")
        await asyncio.sleep(0.1)


async def trial(
    method: str,
    cancel: Callable[[str], Coroutine[Any, Any, object]],
    store: Store,
    client: Client,
    settings: Settings,
    folder: Path,
    children: int,
    end_seconds: float,
) -> Trial:
    """Run one job to ``children`` in flight, cancel it, time it, audit the store."""
    harness.write_small_files(folder, children + EXTRA_FILES, tag=f"{folder.name}-")
    directory_id = await harness.register(store, folder)
    job = await harness.create_job(store, client, settings, directory_id)
    in_flight, round_trip = await _in_flight(client, job.workflow_id, children)

    started = time.perf_counter()
    call = asyncio.create_task(cancel(job.id))
    to_store = math.inf
    while time.perf_counter() - started < CANCEL_LIMIT_SECONDS:
        if (await store.jobs.get_job(job.id)).status == JobStatus.CANCELLED.value:
            to_store = time.perf_counter() - started
            break
        await asyncio.sleep(POLL_SECONDS)
    error = None
    try:
        await call
    except Exception as exc:  # reported, not raised: the figures say how often
        error = f"{type(exc).__name__}: {exc}"
    to_return = time.perf_counter() - started

    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    try:
        ended = await asyncio.wait_for(handle.result(), end_seconds)
        workflow_status = ended.status.value
    except TimeoutError:
        # The cancellation did not reach the workflow: stop it so the next trial starts clean.
        workflow_status = f"still running {end_seconds:g} s later (terminated)"
        await handle.terminate("bench: cancel trial over")
    chain = await harness.run_chain(client, job.workflow_id)
    task_failures = [
        WorkflowTaskFailedCause.Name(event.workflow_task_failed_event_attributes.cause)
        for history in chain
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    final = await store.jobs.get_job(job.id)
    items, _ = await store.items.list_items(job.id, limit=1_000_000)
    done = final.completed_items + final.failed_items + final.skipped_items
    result = Trial(
        method=method,
        in_flight=in_flight,
        to_store=to_store,
        to_return=to_return,
        query_round_trip=round_trip,
        status=final.status,
        open_items=sum(1 for item in items if item.status in _OPEN_ITEM_STATUSES),
        counts_add_up=done + final.cancelled_items == final.total_items == len(items),
        error=error,
        workflow_status=workflow_status,
        task_failures=task_failures,
    )
    print(
        f"  {method:<8} {in_flight} in flight: store reads cancelled after {to_store:.3f} s, "
        f"call returned after {to_return:.3f} s (query round trip {round_trip * 1000:.0f} ms); "
        f"{final.cancelled_items} cancelled of {final.total_items}; parent workflow ended "
        f"{workflow_status}"
        + (f"; workflow task failures {task_failures}" if task_failures else "")
        + (f"; the cancel call failed: {error}" if error else "")
    )
    return result


async def main(arguments: argparse.Namespace) -> int:
    """Run the trials, alternating the service and the HTTP API, and report."""
    children = SMOKE_CHILDREN if arguments.smoke else arguments.children
    trials = SMOKE_TRIALS if arguments.smoke else 2 * arguments.trials
    end_seconds = SMOKE_WORKFLOW_END_SECONDS if arguments.smoke else WORKFLOW_END_SECONDS
    results: list[Trial] = []
    with harness.workdir(arguments) as tmp:
        root = Path(tmp)
        # Every child starts at once (the window does not ramp up): cancelled in flight.
        settings = harness.bench_settings(
            root / "data",
            initial_concurrent_children=children,
            max_concurrent_children=max(children, Settings().max_concurrent_children),
            **harness.smoke_overrides(arguments),
        )
        env = {SLEEP_SECONDS_ENV: str(ENGINE_SLEEP_SECONDS)}
        async with harness.dev_server(settings) as server:
            client = server.client
            store = await Store.open(settings.effective_database_url)
            try:
                async with (
                    harness.worker_process(settings, "sleep", env=env),
                    harness.api_process(settings) as api,
                    httpx.AsyncClient(base_url=api.base_url, headers=api.headers) as http,
                ):

                    async def by_service(job_id: str) -> object:
                        return await service.cancel_job(store, client, job_id, reason="bench")

                    async def by_http(job_id: str) -> object:
                        response = await http.post(
                            f"/api/v1/beta/batch-processing/{job_id}/cancel",
                            json={"reason": "bench"},
                            timeout=60,
                        )
                        response.raise_for_status()
                        return response.json()

                    methods = [("service", by_service), ("http", by_http)]
                    for index in range(trials):
                        method, cancel = methods[index % 2]
                        folder = root / f"trial-{index}"
                        results.append(
                            await trial(
                                method,
                                cancel,
                                store,
                                client,
                                settings,
                                folder,
                                children,
                                end_seconds,
                            )
                        )
            finally:
                await store.close()

    report = harness.Report(
        key="cancel",
        title="5. Cancel latency",
        parameters={
            "children_in_flight": children,
            "trials": f"{trials} ({trials // 2} per method)",
            "engine": f"sleep {ENGINE_SLEEP_SECONDS} s",
        },
    )
    for method in ("service", "http"):
        mine = [t for t in results if t.method == method]
        to_store = [t.to_store for t in mine]
        label = "docbatch.service.cancel_job" if method == "service" else "HTTP POST …/cancel"
        report.add(
            harness.Figure(f"{label}: to store cancelled, median", statistics.median(to_store), "s")
        )
        report.add(
            harness.at_most(f"{label}: to store cancelled, max", max(to_store), TARGET_SECONDS, "s")
        )
        report.add(
            harness.Figure(
                f"{label}: call returned, median", statistics.median(t.to_return for t in mine), "s"
            )
        )
    report.add(
        harness.Figure(
            "progress query round trip before cancel (baseline), median",
            statistics.median(t.query_round_trip for t in results) * 1000,
            "ms",
        )
    )
    failed_calls = [t for t in results if t.error]
    report.add(
        harness.Figure(
            "cancel calls that answered an error", len(failed_calls), "", "0", not failed_calls
        )
    )
    lost = [t for t in results if t.workflow_status != JobStatus.CANCELLED.value]
    report.add(
        harness.Figure("parent workflows that did not end cancelled", len(lost), "", "0", not lost)
    )
    causes = Counter(cause for t in results for cause in t.task_failures)
    report.add(
        harness.Figure(
            "parent workflow task failures (all trials)",
            ", ".join(f"{n}× {cause}" for cause, n in causes.items()) or "0",
        )
    )
    for t in failed_calls:
        report.notes.append(f"A cancel through {t.method} answered: {(t.error or '')[:300]}")
    report.check(
        f"{children} children in flight at every cancel",
        all(t.in_flight >= children for t in results),
    )
    report.check(
        "every job ended cancelled", all(t.status == JobStatus.CANCELLED.value for t in results)
    )
    report.check("no item left pending or processing", all(t.open_items == 0 for t in results))
    report.check("item counts add up to the total", all(t.counts_add_up for t in results))
    report.notes.append(
        "Latency = time from the cancel call to the first store read (every 10 ms) that "
        "says `cancelled`; per-trial figures are printed by the script."
    )
    return harness.finish(report, arguments)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=100, help="children in flight")
    parser.add_argument("--trials", type=int, default=5, help="trials per method")
    harness.common_arguments(parser)
    sys.exit(harness.run_main(main(parser.parse_args())))

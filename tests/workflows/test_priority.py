"""The reference's ``priority``: urgent jobs' items run first when workers are saturated.

A worker that runs two workflow tasks and one activity at a time leaves a backlog of item
activities in Temporal's task queue. A job started later with ``priority: high`` has its
items dispatched ahead of that backlog; at equal priority it waits its turn (the control).

The test has its own dev server whose task queues have one partition. With the default
four, a poll takes from a random partition, so at equal priority a late item overtakes
however much backlog its partition happens to have less than the others: 0 to 12 of 36
items in runs here, which made the control useless. One partition is strict first come,
first served within a priority, so both runs measure the priority and nothing else.

A job normally starts with a narrow window of children that widens while the engines
keep up, which keeps its backlog in the task queue short; here each job starts at full
width (``initial_concurrent_children``), so the early job's backlog is all its items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from docbatch.core import processor
from docbatch.stack import temporal_binary
from docbatch.store.tables import JobRow
from docbatch.temporal import SEARCH_ATTRIBUTES
from tests.conftest import Stack, StackFactory
from tests.engine_doubles import slow_engine
from tests.workflows.helpers import start_folder_job, wait_job, wait_until

EARLY_ITEMS = 36
LATE_ITEMS = 4


@pytest.fixture(scope="module")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """This module's dev server: every task queue has a single partition."""
    single_partition = [
        f"--dynamic-config-value=matching.numTaskqueue{side}Partitions=1"
        for side in ("Read", "Write")
    ]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        data_converter=pydantic_data_converter,
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=single_partition,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def _write_files(folder: Path, count: int) -> None:
    """Text files whose content is unique to the folder (so no job skips them as done)."""
    folder.mkdir(parents=True)
    for index in range(count):
        (folder / f"{folder.name}-{index:02d}.txt").write_text(f"{folder.name}: document {index}\n")


async def _completion_times(stack: Stack, job: JobRow) -> list[datetime]:
    items, _ = await stack.store.items.list_items(job.id, limit=1000, offset=0)
    assert all(item.completed_at is not None for item in items)
    return sorted(item.completed_at for item in items if item.completed_at is not None)


async def _race(stack: Stack, tmp_path: Path, late_priority: str) -> int:
    """Start a low-priority job, then a later one; how many early items finish after it."""
    early_folder, late_folder = (
        tmp_path / f"early-{late_priority}",
        tmp_path / f"late-{late_priority}",
    )
    _write_files(early_folder, EARLY_ITEMS)
    _write_files(late_folder, LATE_ITEMS)
    early = await start_folder_job(stack, early_folder, {"parameters": {"priority": "low"}})

    async def early_underway() -> bool:
        return (await stack.store.jobs.get_job(early.id)).completed_items >= 1

    await wait_until(early_underway)
    late = await start_folder_job(stack, late_folder, {"parameters": {"priority": late_priority}})
    assert (await wait_job(stack, late)).job.processed_items == LATE_ITEMS
    assert (await wait_job(stack, early)).job.processed_items == EARLY_ITEMS
    late_done = (await _completion_times(stack, late))[-1]
    return sum(1 for at in await _completion_times(stack, early) if at > late_done)


async def test_high_priority_items_of_a_later_job_run_before_an_earlier_backlog(
    make_stack: StackFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every item through the activity task queue (no quick attempt in its workflow
    # task): one lane, so the order the queue hands work out is the order items end.
    monkeypatch.setattr(processor, "QUICK_MAX_BYTES", -1)
    async with make_stack(
        engine=slow_engine,
        max_concurrent_workflow_tasks=2,
        max_concurrent_activities=1,
        initial_concurrent_children=EARLY_ITEMS,
    ) as stack:
        overtaken = await _race(stack, tmp_path, "high")
        waited = await _race(stack, tmp_path, "low")

    # High priority: the late job's items jump the early job's backlog, so many of the
    # early items finish after the late job's last one.
    assert overtaken >= EARLY_ITEMS // 3, (overtaken, waited)
    # Equal priority: first come, first served (one partition), so next to nothing
    # finishes after the late job: at most the item already running when it started.
    assert waited <= 2, (overtaken, waited)

"""Bench-only baselines of the orchestration benchmark, run on the same server as docbatch.

- ``BareChildParentWorkflow``: one child per item in a sliding window, each child does
  nothing and returns: the ceiling of a child-per-item design on this server.
- ``PlainActivitiesWorkflow``: the same items as no-op activities in one workflow, same
  window: what the same server does without a child per item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

ACTIVITY_TIMEOUT = timedelta(seconds=60)


class BaselineInput(BaseModel):
    """How many items to run, and how many at a time."""

    items: int
    window: int


class BaselineResult(BaseModel):
    """How many items ended."""

    done: int


@activity.defn
async def noop_activity(item: str) -> str:
    """Return at once."""
    return item


@workflow.defn
class EmptyChildWorkflow:
    """A child that does nothing and returns."""

    @workflow.run
    async def run(self, item: str) -> str:
        """Return the item at once."""
        return item


class _SlidingWindow:
    """Run ``items`` coroutines, at most ``window`` at a time, in workflow code."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.done = 0

    async def run(self, request: BaselineInput, start: Callable[[int], Awaitable[None]]) -> int:
        async def one(index: int) -> None:
            try:
                await start(index)
            finally:
                self.in_flight -= 1
                self.done += 1

        for index in range(request.items):
            await workflow.wait_condition(lambda: self.in_flight < request.window)
            self.in_flight += 1
            # The task is awaited through the `done` counter below.
            asyncio.create_task(one(index))  # noqa: RUF006
        await workflow.wait_condition(lambda: self.done == request.items)
        return self.done


@workflow.defn
class BareChildParentWorkflow:
    """Start one ``EmptyChildWorkflow`` per item in a sliding window of ``window``."""

    @workflow.run
    async def run(self, request: BaselineInput) -> BaselineResult:
        """Run every child; return how many ended."""
        parent = workflow.info().workflow_id

        async def start(index: int) -> None:
            await workflow.execute_child_workflow(
                EmptyChildWorkflow.run, f"item-{index}", id=f"{parent}-{index}"
            )

        return BaselineResult(done=await _SlidingWindow().run(request, start))


@workflow.defn
class PlainActivitiesWorkflow:
    """Run one ``noop_activity`` per item in a sliding window of ``window``."""

    @workflow.run
    async def run(self, request: BaselineInput) -> BaselineResult:
        """Run every activity; return how many ended."""

        async def start(index: int) -> None:
            await workflow.execute_activity(
                noop_activity, f"item-{index}", start_to_close_timeout=ACTIVITY_TIMEOUT
            )

        return BaselineResult(done=await _SlidingWindow().run(request, start))


def baseline_worker(client: Client, *, task_queue: str, max_concurrent_activities: int) -> Worker:
    """A worker for the baselines, with the same sandbox and activity slots as docbatch's."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[BareChildParentWorkflow, EmptyChildWorkflow, PlainActivitiesWorkflow],
        activities=[noop_activity],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic")
        ),
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )

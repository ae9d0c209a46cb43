"""The batch workflows alone, on a real Temporal dev server, with stub activities: no
store, no engines. What the parent and child decide — pages, continue-as-new, the quick
and durable paths, a bad file failing its item only, all-failed, cancel, pause — is
checked against an in-memory record of the activities they called.

An item's name says how its stub behaves: ``ok`` finishes in the quick attempt, ``slow``
leaves the quick attempt unfinished (the durable path completes it), ``bad`` is a broken
document, ``crash`` makes the quick attempt raise (the durable path completes it),
``skip`` is skipped by the listing, ``hang`` runs until cancelled, ``busy`` finds every
engine process busy in its quick attempt (it queues for the durable path).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.item_activities import DOCUMENT_ERROR_TYPE
from docbatch.ids import item_workflow_id
from docbatch.messages import (
    BatchParentInput,
    BatchParentResult,
    CancelJobItemsInput,
    CancelJobItemsOutput,
    ItemFailureInput,
    ItemInput,
    ItemOutcome,
    JobSnapshot,
    ListPageInput,
    ListPageOutput,
    RecordEventInput,
    RecordEventOutput,
    SetJobPausedInput,
    SetJobStatusInput,
    StartJobInput,
    StartJobOutput,
)
from docbatch.models import ItemStatus, JobStatus
from tests.workflows.helpers import (
    failed_workflow_tasks,
    parent_histories,
    record_histories,
    replay,
)
from worker import WORKFLOWS, workflow_runner
from workflows.batch_parent import BatchParentWorkflow


@dataclass
class StubJob:
    """The activities' view of one job: its items by ordinal and what was called."""

    names: list[str]
    page_size: int = 2
    threshold: int = 3
    statuses: list[JobStatus] = field(default_factory=list)
    outcomes: dict[str, ItemStatus] = field(default_factory=dict)
    paused: list[bool] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    items_cancelled_by_job: int = 0
    hanging: asyncio.Event = field(default_factory=asyncio.Event)
    durable_now: int = 0
    durable_most: int = 0
    """Items in the durable path at once: now, and at most."""

    def item_id(self, ordinal: int) -> str:
        return f"itm-{ordinal}"

    def name_of(self, item_id: str) -> str:
        return self.names[int(item_id.split("-")[1]) - 1]

    def snapshot(self, status: JobStatus) -> JobSnapshot:
        counts = Counter(self.outcomes.values())
        return JobSnapshot(
            status=status,
            total=len(self.names),
            completed=counts[ItemStatus.COMPLETED],
            failed=counts[ItemStatus.FAILED],
            skipped=counts[ItemStatus.SKIPPED],
            cancelled=counts[ItemStatus.CANCELLED],
        )


class StubActivities:
    """Every activity the batch workflows call, by name, over ``StubJob``s in memory."""

    def __init__(self) -> None:
        self.jobs: dict[str, StubJob] = {}

    def list(self) -> list[Callable[..., object]]:
        return [
            self.start_job, self.list_page, self.set_job_status, self.set_job_paused,
            self.cancel_job_items, self.record_event, self.process_item_now,
            self.process_item, self.record_item_failure, self.record_item_cancelled,
        ]  # fmt: skip

    @activity.defn(name="start_job")
    async def start_job(self, request: StartJobInput) -> StartJobOutput:
        job = self.jobs[request.job_id]
        job.calls["start_job"] += 1
        return StartJobOutput(
            total=len(job.names),
            page_size=job.page_size,
            continue_as_new_threshold=job.threshold,
            max_concurrent_children=10,
            timeout_seconds=30,
            webhooks=True,
            job_type="parse",
        )

    @activity.defn(name="list_page")
    async def list_page(self, request: ListPageInput) -> ListPageOutput:
        job = self.jobs[request.job_id]
        job.calls["list_page"] += 1
        ordinals = range(
            request.cursor + 1, min(len(job.names), request.cursor + request.limit) + 1
        )
        work, skipped = [], 0
        for ordinal in ordinals:
            item_id = job.item_id(ordinal)
            if job.names[ordinal - 1].startswith("skip"):
                job.outcomes[item_id] = ItemStatus.SKIPPED
                skipped += 1
            elif item_id not in job.outcomes:
                work.append(item_id)
        return ListPageOutput(
            item_ids=work,
            item_names=[job.name_of(i) for i in work],
            skipped=skipped,
            listed=len(ordinals),
            next_cursor=ordinals[-1] if ordinals else request.cursor,
            exhausted=len(ordinals) < request.limit,
        )

    @activity.defn(name="set_job_status")
    async def set_job_status(self, request: SetJobStatusInput) -> JobSnapshot:
        job = self.jobs[request.job_id]
        job.statuses.append(request.status)
        return job.snapshot(request.status)

    @activity.defn(name="set_job_paused")
    async def set_job_paused(self, request: SetJobPausedInput) -> None:
        self.jobs[request.job_id].paused.append(request.paused)

    @activity.defn(name="cancel_job_items")
    async def cancel_job_items(self, request: CancelJobItemsInput) -> CancelJobItemsOutput:
        job = self.jobs[request.job_id]
        open_items = [
            job.item_id(n) for n in range(1, len(job.names) + 1)
            if job.item_id(n) not in job.outcomes
        ]  # fmt: skip
        for item_id in open_items:
            job.outcomes[item_id] = ItemStatus.CANCELLED
        job.items_cancelled_by_job = len(open_items)
        return CancelJobItemsOutput(cancelled=len(open_items))

    @activity.defn(name="record_event")
    async def record_event(self, request: RecordEventInput) -> RecordEventOutput:
        self.jobs[request.job_id].events.append(request.suffix)
        return RecordEventOutput(event_id=f"evt-{request.suffix}", targets=0)

    def _finish(self, item: ItemInput, status: ItemStatus) -> ItemOutcome:
        self.jobs[item.job_id].outcomes.setdefault(item.item_id, status)
        return ItemOutcome(
            item_id=item.item_id, status=self.jobs[item.job_id].outcomes[item.item_id]
        )

    @activity.defn(name="process_item_now")
    async def process_item_now(self, item: ItemInput) -> ItemOutcome:
        job = self.jobs[item.job_id]
        job.calls["process_item_now"] += 1
        name = job.name_of(item.item_id)
        if name.startswith("bad"):
            job.outcomes[item.item_id] = ItemStatus.FAILED
            raise ApplicationError(
                f"{name}: not a PDF", type=DOCUMENT_ERROR_TYPE, non_retryable=True
            )
        if name.startswith("crash"):
            raise RuntimeError("engine process died")
        if name.startswith(("slow", "hang")):
            return ItemOutcome(item_id=item.item_id, status=ItemStatus.PROCESSING)
        if name.startswith("busy"):
            return ItemOutcome(item_id=item.item_id, status=ItemStatus.PENDING)
        return self._finish(item, ItemStatus.COMPLETED)

    @activity.defn(name="process_item")
    async def process_item(self, item: ItemInput) -> ItemOutcome:
        job = self.jobs[item.job_id]
        job.calls["process_item"] += 1
        if job.name_of(item.item_id).startswith("hang"):
            job.hanging.set()
            while True:  # until the batch is cancelled (heartbeats carry the request)
                activity.heartbeat()
                await asyncio.sleep(0.1)
        job.durable_now += 1
        job.durable_most = max(job.durable_most, job.durable_now)
        try:
            await asyncio.sleep(0.05)  # long enough for the window's children to overlap
        finally:
            job.durable_now -= 1
        return self._finish(item, ItemStatus.COMPLETED)

    @activity.defn(name="record_item_failure")
    async def record_item_failure(self, request: ItemFailureInput) -> ItemOutcome:
        job = self.jobs[request.job_id]
        job.outcomes.setdefault(request.item_id, ItemStatus.FAILED)
        return ItemOutcome(item_id=request.item_id, status=job.outcomes[request.item_id])

    @activity.defn(name="record_item_cancelled")
    async def record_item_cancelled(self, item: ItemInput) -> ItemOutcome:
        return self._finish(item, ItemStatus.CANCELLED)


@dataclass
class Harness:
    client: Client
    stubs: StubActivities
    task_queue: str

    async def start(
        self, job: StubJob, *, start_signal: str | None = None
    ) -> tuple[str, WorkflowHandle[BatchParentWorkflow, BatchParentResult]]:
        job_id = f"job-{uuid.uuid4()}"
        self.stubs.jobs[job_id] = job
        handle = await self.client.start_workflow(
            BatchParentWorkflow.run,
            BatchParentInput(job_id=job_id),
            id=f"batch-{job_id}",
            task_queue=self.task_queue,
            start_signal=start_signal,
        )
        return job_id, handle

    async def histories(self, job_id: str, job: StubJob) -> list[WorkflowHistory]:
        """Every run of the parent, then each child that ran."""
        found = await parent_histories(self.client, f"batch-{job_id}")
        for ordinal in range(1, len(job.names) + 1):
            item_id = job.item_id(ordinal)
            if job.name_of(item_id).startswith("skip"):
                continue
            child = self.client.get_workflow_handle(item_workflow_id(job_id, item_id))
            try:
                found.append(await child.fetch_history())
            except RPCError as exc:  # never started: the batch was cancelled first
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        return found

    async def replays(self, name: str, job_id: str, job: StubJob) -> None:
        """The run's histories are healthy and replay (and are stored when recording)."""
        histories = await self.histories(job_id, job)
        assert failed_workflow_tasks(histories) == []
        record_histories(name, histories)
        await replay(histories)


@pytest.fixture
async def harness(temporal_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    stubs = StubActivities()
    task_queue = f"stubs-{uuid.uuid4()}"
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=stubs.list(),
        workflow_runner=workflow_runner(),
    ):
        yield Harness(temporal_env.client, stubs, task_queue)


async def test_pages_paths_and_continue_as_new(harness: Harness) -> None:
    names = ["ok-1", "slow-2", "bad-3", "skip-4", "crash-5", "ok-6", "skip-7", "ok-8"]
    job = StubJob(names=names, page_size=2, threshold=3)
    job_id, handle = await harness.start(job)
    result = await handle.result()

    assert result.status == JobStatus.COMPLETED
    assert (result.total, result.completed, result.failed, result.skipped) == (8, 5, 1, 2)
    assert result.runs >= 2  # the threshold of 3 children per run was crossed
    assert job.statuses == [JobStatus.DISPATCHED, JobStatus.COMPLETED]
    assert job.events == ["pending", "running", "partial_success"]
    assert job.calls["start_job"] == 1  # a continued run does not start the job again
    # ok, bad and skip never reach the durable path; slow and crash do, once each.
    assert job.calls["process_item"] == 2
    assert job.outcomes[job.item_id(3)] == ItemStatus.FAILED
    progress = await handle.query(BatchParentWorkflow.progress)
    assert progress.percentage == 100.0
    assert progress.in_flight == 0
    await harness.replays("stub-pages-failures-continue-as-new", job_id, job)


async def test_a_batch_of_broken_files_fails_and_says_so(harness: Harness) -> None:
    job = StubJob(names=["bad-1", "bad-2", "bad-3"], page_size=5, threshold=10)
    _, handle = await harness.start(job)
    result = await handle.result()
    assert result.status == JobStatus.FAILED
    assert result.failed == 3
    assert job.statuses[-1] == JobStatus.FAILED
    assert job.events[-1] == "error"


async def test_cancel_stops_a_running_item_and_ends_the_rest(harness: Harness) -> None:
    job = StubJob(names=["ok-1", "hang-2", "ok-3", "ok-4"], page_size=2, threshold=2)
    job_id, handle = await harness.start(job)
    await asyncio.wait_for(job.hanging.wait(), timeout=60)
    await handle.signal(BatchParentWorkflow.cancel)
    result = await handle.result()
    assert result.status == JobStatus.CANCELLED
    assert result.completed == 1
    assert result.completed + result.cancelled == 4
    assert job.statuses[-1] == JobStatus.CANCELLED
    assert job.events[-1] == "cancelled"
    assert job.outcomes[job.item_id(2)] == ItemStatus.CANCELLED
    await harness.replays("stub-cancel-running-item", job_id, job)


async def test_a_batch_paused_at_start_dispatches_nothing_until_resumed(
    harness: Harness,
) -> None:
    job = StubJob(names=["ok-1", "ok-2", "ok-3"], page_size=1, threshold=10)
    _, handle = await harness.start(job, start_signal="pause")
    paused = await handle.execute_update(BatchParentWorkflow.pause_job)  # once recorded
    assert paused.status == "paused"
    assert job.paused == [True]
    assert job.calls["list_page"] == 0
    assert job.calls["process_item_now"] == 0
    resumed = await handle.execute_update(BatchParentWorkflow.resume_job)
    assert resumed.status == "running"
    result = await handle.result()
    assert result.status == JobStatus.COMPLETED
    assert result.completed == 3
    assert job.paused == [True, False]


async def test_the_window_widens_while_items_are_taken_up_and_narrows_when_they_queue(
    harness: Harness,
) -> None:
    # The stub's max_concurrent_children is 10; a job starts with a window of 4, one
    # wider per window of children taken up at once: 4 + 5 + 6 children make it 7.
    taken_up = StubJob(names=[f"ok-{n}" for n in range(1, 16)], page_size=20, threshold=20)
    _, handle = await harness.start(taken_up)
    assert (await handle.result()).completed == 15
    assert (await handle.query(BatchParentWorkflow.progress)).window == 7

    queued = StubJob(names=[f"busy-{n}" for n in range(1, 13)], page_size=20, threshold=20)
    job_id, handle = await harness.start(queued)
    assert (await handle.result()).completed == 12
    assert (await handle.query(BatchParentWorkflow.progress)).window == 2
    assert 2 <= queued.durable_most <= 4  # never wider than the window it started with
    await harness.replays("stub-adaptive-window", job_id, queued)

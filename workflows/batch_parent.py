"""``BatchParentWorkflow``: page through a job's items and run one child per item.

Each run lists pages of items after a cursor (the listing activity writes item rows and
skips what needs no work), keeps a window of children in flight (adapted to how fast the
workers take items up, at most ``max_concurrent_children``), and after
``continue_as_new_threshold`` items handed to children (or when Temporal suggests it)
drains its children and continues as new carrying only the cursor and counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ChildWorkflowCancellationType, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.batch_activities import BatchActivities
    from activities.item_activities import ItemActivities
    from activities.webhook_activities import WebhookActivities
    from docbatch.ids import item_workflow_id
    from docbatch.messages import (
        BatchParentInput,
        BatchParentResult,
        CancelJobItemsInput,
        CancelResult,
        ItemFailureInput,
        ItemInput,
        JobSnapshot,
        ListPageInput,
        ParentState,
        Progress,
        RecordEventInput,
        SetJobPausedInput,
        SetJobStatusInput,
        StartJobInput,
        WebhookDeliveryInput,
    )
    from docbatch.models import ItemStatus, JobStatus
    from docbatch.temporal import DIRECTORY_ID, JOB_ID, JOB_STATUS, JOB_TYPE, PROGRESS
    from workflows.batch_item import BatchItemWorkflow
    from workflows.handler_input import describe_ignored, read_cancel
    from workflows.webhook_delivery import WebhookDeliveryWorkflow

_R = TypeVar("_R")

PAUSED = "paused"
"""Shown as the job's status (search attribute, progress query) while it is paused."""
PATCH_ANY_CANCEL_INPUT = "cancel-any-input"
"""Marks histories where a ``cancel`` signal of any input cancels (before, only a
``{"reason": ...}`` object did: the others were dropped)."""

PATCH_ADAPTIVE_WINDOW = "adaptive-window"
"""Marks histories whose window of children adapts (before, it was always
``max_concurrent_children``)."""
MIN_WINDOW = 2
"""The adaptive window narrows no further (nor above ``max_concurrent_children``); it
starts at the workers' ``initial_concurrent_children``."""

STORE_TIMEOUT = timedelta(seconds=60)
MAX_PAGES_PER_RUN = 200
"""Bounds a run's history when pages are mostly skipped (about 4 events per page)."""
# The store may be briefly unavailable: retry without limit, backing off to 30 s.
STORE_RETRY_POLICY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["NotFoundError"],
)


@workflow.defn
class BatchParentWorkflow:
    """One batch job: dispatch items to children in a sliding window, then finish the job."""

    def __init__(self) -> None:
        self._job_id = ""
        self._state = ParentState()
        self._status = JobStatus.RUNNING
        self._in_flight: dict[str, asyncio.Task[None]] = {}
        self._cancel_requested = False
        self._cancel_reason: str | None = None
        self._finished = False
        self._progress_shown = -1
        self._paused_recorded = False
        """Whether the store and search attribute show the job paused right now."""
        self._recording_pause = False

    # ------------------------------------------------------------------ handlers

    @workflow.query
    def progress(self, *_ignored: Any) -> Progress:
        """Counts and percentage of the job as this workflow sees them (input ignored)."""
        state = self._state
        return Progress(
            job_id=self._job_id,
            status=self._shown_status(),
            paused=state.paused and not self._status.is_terminal,
            total=state.total,
            completed=state.completed,
            failed=state.failed,
            skipped=state.skipped,
            cancelled=state.cancelled,
            in_flight=len(self._in_flight),
            percentage=state.percentage,
            run=state.runs,
            window=self._window(),
        )

    @workflow.signal
    def cancel(self, *args: Any) -> None:
        """Cancel the job (Web UI, ``temporal workflow signal``): any input cancels.

        The input may be ``{"reason": "..."}``, a plain string (taken as the reason), or
        anything else (ignored, with a warning in the worker log).
        """
        request = read_cancel(args)
        if not request.well_formed and not workflow.patched(PATCH_ANY_CANCEL_INPUT):
            # Histories recorded before any input cancelled dropped this signal.
            return
        if request.problem:
            workflow.logger.warning(
                "cancel signal input: %s", request.problem, extra={"job_id": self._job_id}
            )
        self._request_cancel(request.reason)

    @workflow.update
    async def cancel_job(self, *args: Any) -> CancelResult:
        """Cancel the job, wait until every item is terminal, return the processed count."""
        request = read_cancel(args)
        if request.problem:
            workflow.logger.warning(
                "cancel_job input: %s", request.problem, extra={"job_id": self._job_id}
            )
        self._request_cancel(request.reason)
        await workflow.wait_condition(lambda: self._finished)
        return CancelResult(
            job_id=self._job_id,
            status=self._status,
            processed_items=self._state.completed + self._state.failed,
        )

    @cancel_job.validator
    def _validate_cancel_job(self, *_args: Any) -> None:
        # A second cancel while the first is under way waits for the same end.
        if self._finished or self._status.is_terminal:
            raise ValueError(f"job {self._job_id} already {self._status.value}")

    @workflow.signal
    def pause(self, *args: Any) -> None:
        """Stop dispatching new items; items in flight finish (input ignored)."""
        self._warn_ignored("pause", args)
        self._set_paused(True)

    @workflow.signal
    def resume(self, *args: Any) -> None:
        """Dispatch again after a pause (input ignored)."""
        self._warn_ignored("resume", args)
        self._set_paused(False)

    @workflow.update
    async def pause_job(self, *args: Any) -> Progress:
        """Pause the job; answers once the pause is recorded in the store."""
        self.pause(*args)
        await workflow.wait_condition(self._pause_settled)
        return self.progress()

    @pause_job.validator
    def _validate_pause_job(self, *_args: Any) -> None:
        self._refuse_if_finished()

    @workflow.update
    async def resume_job(self, *args: Any) -> Progress:
        """Resume the job; answers once the resumption is recorded in the store."""
        self.resume(*args)
        await workflow.wait_condition(self._pause_settled)
        return self.progress()

    @resume_job.validator
    def _validate_resume_job(self, *_args: Any) -> None:
        self._refuse_if_finished()

    def _refuse_if_finished(self) -> None:
        if self._finished or self._status.is_terminal or self._cancel_requested:
            state = "being cancelled" if not self._finished else self._status.value
            raise ValueError(f"job {self._job_id} already {state}")

    def _request_cancel(self, reason: str | None) -> None:
        if not self._finished and not self._cancel_requested:
            self._cancel_requested = True
            self._cancel_reason = reason

    def _set_paused(self, paused: bool) -> None:
        if not self._finished and not self._cancel_requested:
            self._state.paused = paused

    def _warn_ignored(self, name: str, args: Sequence[Any]) -> None:
        problem = describe_ignored(args)
        if problem:
            workflow.logger.warning("%s input: %s", name, problem, extra={"job_id": self._job_id})

    # ----------------------------------------------------------------------- run

    @workflow.run
    async def run(self, request: BatchParentInput) -> BatchParentResult:
        """Process every item of the job; continue-as-new between pages of work."""
        self._job_id = request.job_id
        if request.state is None:
            shape = await self._store_op(
                BatchActivities.start_job, StartJobInput(job_id=request.job_id)
            )
            if shape.already_terminal is not None:
                self._status = shape.already_terminal
                return self._result()
            self._state = ParentState(
                total=shape.total,
                page_size=shape.page_size,
                continue_as_new_threshold=shape.continue_as_new_threshold,
                max_concurrent_children=shape.max_concurrent_children,
                timeout_seconds=shape.timeout_seconds,
                webhooks=shape.webhooks,
                webhook_retry_hours=shape.webhook_retry_hours,
                webhook_initial_retry_seconds=shape.webhook_initial_retry_seconds,
                job_type=shape.job_type,
                directory_id=shape.directory_id,
                paused=self._state.paused,  # a pause that came while the job started
            )
            if workflow.patched(PATCH_ADAPTIVE_WINDOW):
                self._state.window = min(
                    shape.initial_concurrent_children, shape.max_concurrent_children
                )
            self._upsert_status(JobStatus.RUNNING)
            await self._emit("pending")
            await self._emit("running")
        else:
            self._state = request.state
            self._paused_recorded = request.state.paused
        pause_keeper = asyncio.create_task(self._record_pauses())

        exhausted = await self._dispatch_pages()

        if not self._cancel_requested and not exhausted:
            await workflow.wait_condition(lambda: not self._in_flight or self._cancel_requested)
            if not self._cancel_requested:
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self._pause_is_recorded()
                )
                next_state = self._state.model_copy(update={"runs": self._state.runs + 1})
                workflow.continue_as_new(BatchParentInput(job_id=self._job_id, state=next_state))

        if not self._cancel_requested:
            await self._set_status(JobStatus.DISPATCHED)
            await workflow.wait_condition(lambda: not self._in_flight or self._cancel_requested)

        if self._cancel_requested:
            await self._cancel_in_flight()
            await self._store_op(
                BatchActivities.cancel_job_items,
                CancelJobItemsInput(job_id=self._job_id, reason=self._cancel_reason),
            )
            await self._set_status(JobStatus.CANCELLED)
            await self._emit("cancelled")
        else:
            state = self._state
            all_failed = state.failed > 0 and state.completed + state.skipped == 0
            await self._set_status(
                JobStatus.FAILED if all_failed else JobStatus.COMPLETED,
                error_message=f"all {state.failed} items failed" if all_failed else None,
            )
            if all_failed:
                await self._emit("error")
            else:
                await self._emit("partial_success" if self._state.failed else "success")
        self._finished = True
        await pause_keeper
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result()

    async def _dispatch_pages(self) -> bool:
        """List pages and start children until the run's budget is spent; True if exhausted.

        The budget counts items handed to children: skipped items cost this run one
        small listing result per page, not a child, so a re-run over work already done
        pages straight through (bounded by ``MAX_PAGES_PER_RUN`` and Temporal's
        continue-as-new suggestion).
        """
        state = self._state
        dispatched = 0
        pages = 0
        while not self._cancel_requested:
            await workflow.wait_condition(lambda: not state.paused or self._cancel_requested)
            if self._cancel_requested:
                return False
            budget = state.continue_as_new_threshold - dispatched
            if budget <= 0 or pages >= MAX_PAGES_PER_RUN:
                return False
            if pages and workflow.info().is_continue_as_new_suggested():
                return False
            page = await self._store_op(
                BatchActivities.list_page,
                ListPageInput(
                    job_id=self._job_id,
                    cursor=state.cursor,
                    limit=min(state.page_size, budget),
                ),
            )
            pages += 1
            state.cursor = page.next_cursor
            state.skipped += page.skipped
            self._upsert_progress()
            names = page.item_names or page.item_ids
            for item_id, name in zip(page.item_ids, names, strict=True):
                await workflow.wait_condition(
                    lambda: (
                        (len(self._in_flight) < self._window() and not state.paused)
                        or self._cancel_requested
                    )
                )
                if self._cancel_requested:
                    return False
                self._in_flight[item_id] = asyncio.create_task(self._run_child(item_id, name))
                dispatched += 1
            if page.exhausted:
                return True
        return False

    async def _run_child(self, item_id: str, name: str) -> None:
        state = self._state
        item = ItemInput(
            job_id=self._job_id,
            item_id=item_id,
            item_name=name[:200],
            timeout_seconds=state.timeout_seconds,
        )
        attributes = [SearchAttributePair(JOB_ID, self._job_id)]
        if state.job_type:
            attributes.append(SearchAttributePair(JOB_TYPE, state.job_type))
        if state.directory_id:
            attributes.append(SearchAttributePair(DIRECTORY_ID, state.directory_id))
        try:
            outcome = await workflow.execute_child_workflow(
                BatchItemWorkflow.run,
                item,
                id=item_workflow_id(self._job_id, item_id),
                task_queue=workflow.info().task_queue,
                search_attributes=TypedSearchAttributes(attributes),
                static_summary=f"{state.job_type or 'process'} {item.item_name}",
                # Cancelling the job must not wait for each engine to stop: the store marks
                # the items cancelled, and children still running are cancelled (or, once
                # this workflow ends, terminated) without holding the job up.
                cancellation_type=ChildWorkflowCancellationType.TRY_CANCEL,
            )
            self._count(outcome.status)
            self._adapt_window(queued=outcome.queued)
        except asyncio.CancelledError:
            self._count(ItemStatus.CANCELLED)
        except ChildWorkflowError as err:
            if isinstance(err.cause, TemporalCancelledError) or self._cancel_requested:
                self._count(ItemStatus.CANCELLED)
            else:
                # The child itself failed (not its file): record it so the item ends.
                outcome = await self._store_op(
                    ItemActivities.record_item_failure,
                    ItemFailureInput(
                        job_id=self._job_id,
                        item_id=item_id,
                        error_message=f"item workflow failed: {err.cause or err}"[:1000],
                    ),
                )
                self._count(outcome.status)
        finally:
            del self._in_flight[item_id]

    async def _cancel_in_flight(self) -> None:
        for task in list(self._in_flight.values()):
            task.cancel()
        await workflow.wait_condition(lambda: not self._in_flight)

    async def _record_pauses(self) -> None:
        """Keep the store and ``DocbatchStatus`` in step with pause and resume."""
        while True:
            await workflow.wait_condition(
                lambda: self._finished or self._state.paused != self._paused_recorded
            )
            if self._finished:
                return
            paused = self._state.paused
            self._recording_pause = True
            await self._store_op(
                BatchActivities.set_job_paused,
                SetJobPausedInput(job_id=self._job_id, paused=paused),
            )
            self._recording_pause = False
            self._paused_recorded = paused
            if not self._status.is_terminal:
                self._upsert_status(self._status)

    def _pause_is_recorded(self) -> bool:
        return not self._recording_pause and self._paused_recorded == self._state.paused

    def _pause_settled(self) -> bool:
        """Whether a pause or resume Update can answer: recorded, or moot."""
        return self._finished or self._cancel_requested or self._pause_is_recorded()

    def _shown_status(self) -> str:
        if self._paused_recorded and self._state.paused and not self._status.is_terminal:
            return PAUSED
        return self._status.value

    # ------------------------------------------------------------------- helpers

    def _window(self) -> int:
        return self._state.window or self._state.max_concurrent_children

    def _adapt_window(self, *, queued: bool) -> None:
        """Narrow the window by one for each child that had to queue for an engine
        process; widen it by one per window of children taken up at once.

        A child that queues costs the durable path (a regular activity, more history
        and a second workflow task) while adding nothing: the engines were busy. So the
        window settles where the engines always have a document ready and a document
        seldom waits, whatever the number of workers and engine processes. It widens
        slowly on purpose: a child reports that it queued only when it ends, so a
        window that grew fast would overshoot by everything started meanwhile.
        """
        state = self._state
        if not state.window:
            return
        if queued:
            floor = min(MIN_WINDOW, state.max_concurrent_children)
            state.window = max(floor, state.window - 1)
            state.window_credit = 0
            return
        state.window_credit += 1
        if state.window_credit >= state.window:
            state.window = min(state.window + 1, state.max_concurrent_children)
            state.window_credit = 0

    def _count(self, status: ItemStatus) -> None:
        state = self._state
        if status == ItemStatus.COMPLETED:
            state.completed += 1
        elif status == ItemStatus.FAILED:
            state.failed += 1
        elif status == ItemStatus.SKIPPED:
            state.skipped += 1
        elif status == ItemStatus.CANCELLED:
            state.cancelled += 1

    async def _set_status(self, status: JobStatus, error_message: str | None = None) -> None:
        snapshot: JobSnapshot = await self._store_op(
            BatchActivities.set_job_status,
            SetJobStatusInput(job_id=self._job_id, status=status, error_message=error_message),
        )
        if snapshot.status.is_terminal:
            # The store is the record: adopt its exact counts for the final answer.
            self._state = self._state.model_copy(update=snapshot.counts().model_dump())
        self._upsert_status(snapshot.status)

    async def _emit(self, suffix: str) -> None:
        """Record a job event and hand it to a delivery workflow that outlives this one."""
        if not self._state.webhooks:
            return
        event = await self._store_op(
            WebhookActivities.record_event, RecordEventInput(job_id=self._job_id, suffix=suffix)
        )
        if event.targets:
            await workflow.start_child_workflow(
                WebhookDeliveryWorkflow.run,
                WebhookDeliveryInput(
                    event_id=event.event_id,
                    targets=event.targets,
                    retry_hours=self._state.webhook_retry_hours,
                    initial_retry_seconds=self._state.webhook_initial_retry_seconds,
                ),
                id=f"webhook-{event.event_id}",
                task_queue=workflow.info().task_queue,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )

    def _upsert_status(self, status: JobStatus) -> None:
        self._status = status
        workflow.upsert_search_attributes([JOB_STATUS.value_set(self._shown_status())])
        self._upsert_progress()

    def _upsert_progress(self) -> None:
        """Keep ``DocbatchProgress`` current (once per page: each upsert is an event)."""
        percentage = int(self.progress().percentage)
        if percentage != self._progress_shown:
            self._progress_shown = percentage
            workflow.upsert_search_attributes([PROGRESS.value_set(percentage)])

    async def _store_op(self, activity: Callable[[Any, Any], Awaitable[_R]], arg: Any) -> _R:
        # Store operations are short and idempotent: local activities keep them out of
        # the task queue and cost one history event each.
        return await workflow.execute_local_activity_method(
            activity,
            arg,
            start_to_close_timeout=STORE_TIMEOUT,
            retry_policy=STORE_RETRY_POLICY,
        )

    def _result(self) -> BatchParentResult:
        return BatchParentResult(
            job_id=self._job_id,
            status=self._status,
            runs=self._state.runs,
            **self._state.counts().model_dump(),
        )

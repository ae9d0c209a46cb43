"""Activities of the parent workflow: job status, paging with dedup, cancellation."""

from __future__ import annotations

from temporalio import activity

from docbatch import webhooks
from docbatch.core.plan import JobPlan
from docbatch.messages import (
    CancelJobItemsInput,
    CancelJobItemsOutput,
    JobSnapshot,
    ListPageInput,
    ListPageOutput,
    SetJobPausedInput,
    SetJobStatusInput,
    StartJobInput,
    StartJobOutput,
)
from docbatch.models import JobStatus
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.views import job_counts


class BatchActivities:
    """Store operations of a batch job, each idempotent so retries are harmless."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    @activity.defn
    async def start_job(self, request: StartJobInput) -> StartJobOutput:
        """Mark the job running and return its shape (total, page size, threshold)."""
        start = await self._store.jobs.start_job(request.job_id)
        job = start.job
        plan = JobPlan.of_job(job, self._settings)
        return StartJobOutput(
            total=job.total_items,
            page_size=plan.page_size,
            continue_as_new_threshold=plan.continue_as_new_threshold,
            timeout_seconds=plan.attempt_timeout_seconds,
            already_terminal=start.already_terminal,
            max_concurrent_children=self._settings.max_concurrent_children,
            initial_concurrent_children=self._settings.initial_concurrent_children,
            webhooks=bool(webhooks.job_targets(job)),
            webhook_retry_hours=self._settings.webhook_retry_hours,
            webhook_initial_retry_seconds=self._settings.webhook_initial_retry_seconds,
            job_type=job.job_type,
            directory_id=job.directory_id,
        )

    @activity.defn
    async def list_page(self, request: ListPageInput) -> ListPageOutput:
        """Write the next page of items, skip those needing no work, return the rest."""
        page = await self._store.jobs.list_page(
            request.job_id, cursor=request.cursor, limit=request.limit
        )
        activity.logger.debug(
            "listed %d items of job %s: %d to process, %d skipped",
            page.listed,
            request.job_id,
            len(page.item_ids),
            page.skipped,
        )
        return ListPageOutput(
            item_ids=page.item_ids,
            item_names=page.item_names,
            skipped=page.skipped,
            listed=page.listed,
            next_cursor=page.next_cursor,
            exhausted=page.exhausted,
        )

    @activity.defn
    async def set_job_status(self, request: SetJobStatusInput) -> JobSnapshot:
        """Move the job to a status unless it already ended; return status and counts."""
        await self._store.jobs.set_job_status(
            request.job_id, request.status, error_message=request.error_message
        )
        job = await self._store.jobs.get_job(request.job_id)
        return JobSnapshot(status=JobStatus(job.status), **job_counts(job).model_dump())

    @activity.defn
    async def set_job_paused(self, request: SetJobPausedInput) -> None:
        """Record the job's pause in the store (what the CLI and the API show)."""
        await self._store.jobs.set_job_paused(request.job_id, request.paused)

    @activity.defn
    async def cancel_job_items(self, request: CancelJobItemsInput) -> CancelJobItemsOutput:
        """Cancel every item of the job that has not ended, including unlisted ones."""
        cancelled = await self._store.items.cancel_open_items(request.job_id, reason=request.reason)
        return CancelJobItemsOutput(cancelled=cancelled)

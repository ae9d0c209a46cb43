"""The reference API's shapes for store rows (shared by the service, activities and API)."""

from __future__ import annotations

from docbatch.models import (
    BatchJob,
    ItemStatus,
    JobCounts,
    JobItem,
    JobStatus,
    JobType,
    SkipReason,
)
from docbatch.store.tables import JobItemRow, JobRow


def job_model(job: JobRow) -> BatchJob:
    """The reference's job shape for a job row (``processed_items`` = completed + failed)."""
    return BatchJob(
        id=job.id,
        job_type=JobType(job.job_type),
        project_id=job.project_id,
        status=JobStatus(job.status),
        total_items=job.total_items,
        completed_at=job.completed_at,
        created_at=job.created_at,
        directory_id=job.directory_id,
        effective_at=job.updated_at,
        error_message=job.error_message,
        failed_items=job.failed_items,
        processed_items=job.completed_items + job.failed_items,
        skipped_items=job.skipped_items,
        started_at=job.started_at,
        updated_at=job.updated_at,
        workflow_id=job.workflow_id,
        retry_of=job.retry_of,
        paused=is_paused(job),
    )


def is_paused(job: JobRow) -> bool:
    """Whether the job is paused now (a job that ended is not, whatever it was)."""
    return bool(job.paused) and not JobStatus(job.status).is_terminal


def shown_status(job: JobRow) -> str:
    """The status docbatch shows people: ``paused`` for a paused job, else the status."""
    return "paused" if is_paused(job) else job.status


def job_counts(job: JobRow) -> JobCounts:
    """Per-status counts of a job from its counters."""
    return JobCounts(
        total=job.total_items,
        completed=job.completed_items,
        failed=job.failed_items,
        skipped=job.skipped_items,
        cancelled=job.cancelled_items,
    )


def item_model(item: JobItemRow) -> JobItem:
    """The reference's item shape for a job item row."""
    return JobItem(
        item_id=item.item_id,
        item_name=item.item_name,
        status=ItemStatus(item.status),
        completed_at=item.completed_at,
        effective_at=item.updated_at,
        error_message=item.error_message,
        job_id=item.job_id,
        job_record_id=item.result_id,
        skip_reason=SkipReason(item.skip_reason) if item.skip_reason else None,
        started_at=item.started_at,
    )

"""Reading jobs back from the store (no worker needed): a job's status with its
throughput and ETA, and listings of jobs and of a job's items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from docbatch.models import (
    BatchGetStatusResponse,
    BatchJob,
    ItemStatus,
    JobItem,
    JobStatus,
    JobType,
)
from docbatch.store import Store, utcnow
from docbatch.store.tables import JobRow
from docbatch.views import item_model, job_counts, job_model


async def get_status(
    store: Store, job_id: str, *, project_id: str | None = None, throughput: bool = True
) -> BatchGetStatusResponse:
    """A job with its progress percentage (read from the store: no worker needed).

    With ``throughput`` (one more query while the job runs) it also has the job's
    throughput and ETA (see :func:`job_throughput`).
    """
    job = await store.jobs.get_job(job_id, project_id=project_id)
    rate = await job_throughput(store, job) if throughput else Throughput(None, None)
    return BatchGetStatusResponse(
        job=job_model(job),
        progress_percentage=job_counts(job).percentage,
        throughput_items_per_second=rate.items_per_second,
        eta_seconds=rate.eta_seconds,
    )


THROUGHPUT_WINDOW = timedelta(seconds=60)
"""How far back a running job's throughput looks (recent, so an ETA follows changes)."""


@dataclass(frozen=True, slots=True)
class Throughput:
    """Items processed per second and the seconds left; None where unknown."""

    items_per_second: float | None
    eta_seconds: float | None


async def job_throughput(store: Store, job: JobRow, *, now: datetime | None = None) -> Throughput:
    """A job's processing rate and ETA, from the store.

    The rate counts items processed (completed or failed; skipped items cost nothing and
    would inflate it). A running job's rate is over the last ``THROUGHPUT_WINDOW`` (or
    since it started, if later), read from its items' end times; when none ended in the
    window, over the whole run. ETA = items not ended ÷ rate. An ended job has the rate
    of its whole run and an ETA of 0; a job not started yet, or with nothing processed,
    has neither.
    """
    counts = job_counts(job)
    processed = counts.completed + counts.failed
    if job.started_at is None:
        return Throughput(None, None)
    if JobStatus(job.status).is_terminal:
        elapsed = ((job.completed_at or job.updated_at) - job.started_at).total_seconds()
        rate = processed / elapsed if processed and elapsed > 0 else None
        return Throughput(_rounded(rate), 0.0)
    now = now or utcnow()
    since = max(job.started_at, now - THROUGHPUT_WINDOW)
    recent = await store.items.count_items_processed_since(job.id, since)
    window = (now - since).total_seconds()
    whole_run = (now - job.started_at).total_seconds()
    rate = None
    if recent and window > 0:
        rate = recent / window
    elif processed and whole_run > 0:
        rate = processed / whole_run
    if not rate:
        return Throughput(None, None)
    remaining = max(0, counts.total - counts.terminal)
    return Throughput(_rounded(rate), round(remaining / rate, 1))


def _rounded(rate: float | None) -> float | None:
    # Four significant digits: a slow job's rate (one 30-minute scan) must not read 0.
    return None if rate is None else float(f"{rate:.4g}")


async def list_jobs(
    store: Store,
    *,
    project_id: str | None = None,
    status: JobStatus | None = None,
    job_type: JobType | None = None,
    directory_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[BatchJob], int]:
    """Jobs, newest first, and the total matching count."""
    rows, total = await store.jobs.list_jobs(
        project_id=project_id,
        status=status,
        job_type=job_type,
        directory_id=directory_id,
        limit=limit,
        offset=offset,
    )
    return [job_model(row) for row in rows], total


async def list_items(
    store: Store,
    job_id: str,
    *,
    status: ItemStatus | None = None,
    limit: int = 100,
    offset: int = 0,
    project_id: str | None = None,
) -> tuple[list[JobItem], int]:
    """A job's items in listing order, and the total matching count."""
    await store.jobs.get_job(job_id, project_id=project_id)
    rows, total = await store.items.list_items(job_id, status=status, limit=limit, offset=offset)
    return [item_model(row) for row in rows], total

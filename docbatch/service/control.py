"""Steering a running job through its parent workflow: cancel it, pause or resume it (an
Update, or a durable signal when no worker answers in time)."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from docbatch.errors import JobTerminalError
from docbatch.messages import CancelRequest
from docbatch.models import BatchCancelResponse, BatchPauseResponse, JobStatus
from docbatch.service.jobs import TemporalUnavailableError
from docbatch.store import Store
from docbatch.store.tables import JobRow
from docbatch.views import is_paused
from workflows.batch_parent import BatchParentWorkflow


async def cancel_job(
    store: Store,
    client: Client,
    job_id: str,
    *,
    reason: str | None = None,
    project_id: str | None = None,
    wait_seconds: float = 30.0,
) -> BatchCancelResponse:
    """Cancel a running job through the parent's Update; wait until every item ended.

    If no worker answers within ``wait_seconds`` the cancellation is still recorded (as
    a signal, durable in Temporal) and the answer says it is pending.
    """
    job = await store.jobs.get_job(job_id, project_id=project_id)
    if JobStatus(job.status).is_terminal:
        raise JobTerminalError(f"job {job_id} already {job.status}")
    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    request = CancelRequest(reason=reason)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    try:
        result = await asyncio.wait_for(
            handle.execute_update(BatchParentWorkflow.cancel_job, request), wait_seconds
        )
    except WorkflowUpdateFailedError as exc:
        job = await store.jobs.get_job(job_id)
        raise JobTerminalError(f"job {job_id} already {job.status}") from exc
    except (TimeoutError, RPCError) as exc:
        # No worker answered in time, or the Update's workflow task failed (say, a child
        # ended while the workflow was completing) although the cancellation may have
        # landed. The signal is durable and idempotent: send it, then answer from the
        # store as the job stands by the deadline.
        try:
            await handle.signal(BatchParentWorkflow.cancel, request)
        except RPCError:
            job = await store.jobs.get_job(job_id)
            if not JobStatus(job.status).is_terminal:
                raise TemporalUnavailableError(f"could not cancel job {job_id}: {exc}") from exc
        job = await _until_terminal(store, job_id, deadline)
        if job.status == JobStatus.CANCELLED.value:
            message = _cancelled_message(reason)
        elif JobStatus(job.status).is_terminal:
            raise JobTerminalError(f"job {job_id} already {job.status}") from exc
        else:
            message = "cancellation requested; it completes when a worker picks the job up"
        return BatchCancelResponse(
            job_id=job_id,
            message=message,
            processed_items=job.completed_items + job.failed_items,
            status=JobStatus(job.status),
        )
    return BatchCancelResponse(
        job_id=job_id,
        message=_cancelled_message(reason),
        processed_items=result.processed_items,
        status=result.status,
    )


def _cancelled_message(reason: str | None) -> str:
    return f"job cancelled{f': {reason}' if reason else ''}"


async def set_paused(
    store: Store,
    client: Client,
    job_id: str,
    paused: bool,
    *,
    project_id: str | None = None,
    wait_seconds: float = 30.0,
) -> BatchPauseResponse:
    """Pause a job (nothing new is dispatched, items in flight finish) or resume it.

    Through the parent's Update; a signal if no worker answers in time. Both are
    idempotent. The Update answers once the store shows the change; the
    signal is durable in Temporal and lands when a worker picks the job up.
    """
    job = await store.jobs.get_job(job_id, project_id=project_id)
    verb = "pause" if paused else "resume"
    if JobStatus(job.status).is_terminal:
        raise JobTerminalError(f"job {job_id} already {job.status}: nothing to {verb}")
    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    update = BatchParentWorkflow.pause_job if paused else BatchParentWorkflow.resume_job
    signal = BatchParentWorkflow.pause if paused else BatchParentWorkflow.resume
    pending = False
    try:
        await asyncio.wait_for(handle.execute_update(update), wait_seconds)
    except WorkflowUpdateFailedError as exc:
        raise JobTerminalError(f"job {job_id} cannot {verb}: {exc.cause or exc}") from exc
    except (TimeoutError, RPCError) as exc:
        try:
            await handle.signal(signal)
        except RPCError:
            job = await store.jobs.get_job(job_id)
            if JobStatus(job.status).is_terminal:
                raise JobTerminalError(f"job {job_id} already {job.status}") from exc
            raise TemporalUnavailableError(f"could not {verb} job {job_id}: {exc}") from exc
        pending = True
    job = await store.jobs.get_job(job_id)
    if pending and is_paused(job) != paused:
        message = f"{verb} requested; it takes effect when a worker picks the job up"
    elif JobStatus(job.status).is_terminal:
        message = f"job already {job.status}"
    else:
        message = (
            "job paused: in-flight items finish, nothing new starts" if paused else ("job resumed")
        )
    return BatchPauseResponse(
        job_id=job_id, message=message, paused=is_paused(job), status=JobStatus(job.status)
    )


async def _until_terminal(store: Store, job_id: str, deadline: float) -> JobRow:
    """The job once it ended, or as it is at ``deadline`` (event-loop time)."""
    while True:
        job = await store.jobs.get_job(job_id)
        if JobStatus(job.status).is_terminal or asyncio.get_running_loop().time() >= deadline:
            return job
        await asyncio.sleep(0.2)

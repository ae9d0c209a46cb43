"""``/api/v1/beta/batch-processing``: create, list, status, cancel, items, results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.responses import StreamingResponse

from docbatch import export, service, views
from docbatch.api.deps import (
    BlobsDep,
    PrincipalDep,
    SettingsDep,
    StoreDep,
    TemporalDep,
    reject_nul_characters,
)
from docbatch.models import (
    BatchCancelRequest,
    BatchCancelResponse,
    BatchCreateRequest,
    BatchGetStatusResponse,
    BatchJob,
    BatchPauseResponse,
    ItemStatus,
    JobItem,
    JobItemGetProcessingResultsResponse,
    JobStatus,
    JobType,
    Page,
)

router = APIRouter(
    prefix="/api/v1/beta/batch-processing",
    tags=["batch"],
    dependencies=[Depends(reject_nul_characters)],
)

Limit = Annotated[int, Query(ge=1, le=1000, description="Maximum number to return")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Repeat a create safely: the same key and body return the same job",
    ),
]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="Number to skip")]


@router.post("", response_model=BatchJob, summary="Create Batch Job")
async def create_batch_job(
    body: BatchCreateRequest,
    principal: PrincipalDep,
    store: StoreDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    temporal_namespace: Annotated[str | None, Header(alias="temporal-namespace")] = None,
    idempotency_key: IdempotencyKey = None,
) -> BatchJob:
    """Process a directory, or a list of item ids, as one durable batch job.

    The same ``Idempotency-Key`` and body return the same job; another body is a 409.
    """
    client = await temporal.get(temporal_namespace)
    job = await service.create_job(
        store,
        client,
        settings,
        body,
        project_id=principal.project_id,
        idempotency_key=idempotency_key,
    )
    return views.job_model(job)


@router.post("/{job_id}/retry", response_model=BatchJob, summary="Retry Failed Items")
async def retry_failed_items(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKey = None,
) -> BatchJob:
    """Start a new job (linked by ``retry_of``) over the failed items of an ended job."""
    job = await store.jobs.get_job(job_id, project_id=principal.project_id)
    client = await temporal.get(job.temporal_namespace)
    retry = await service.retry_failed_items(
        store,
        client,
        settings,
        job_id,
        project_id=principal.project_id,
        idempotency_key=idempotency_key,
    )
    return views.job_model(retry)


@router.get("", response_model=Page[BatchJob], summary="List Batch Jobs")
async def list_batch_jobs(
    principal: PrincipalDep,
    store: StoreDep,
    directory_id: str | None = None,
    job_type: JobType | None = None,
    status: JobStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[BatchJob]:
    """The project's jobs, newest first, filtered by directory, type or status."""
    jobs, total = await service.list_jobs(
        store,
        project_id=principal.project_id,
        status=status,
        job_type=job_type,
        directory_id=directory_id,
        limit=limit,
        offset=offset,
    )
    return Page[BatchJob](items=jobs, total_size=total)


@router.get("/{job_id}", response_model=BatchGetStatusResponse, summary="Get Batch Job Status")
async def get_batch_job_status(
    job_id: str, principal: PrincipalDep, store: StoreDep
) -> BatchGetStatusResponse:
    """A job with counts and progress (read from the store; no worker needed)."""
    return await service.get_status(store, job_id, project_id=principal.project_id)


@router.post("/{job_id}/cancel", response_model=BatchCancelResponse, summary="Cancel Batch Job")
async def cancel_batch_job(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    temporal: TemporalDep,
    body: Annotated[BatchCancelRequest | None, Body()] = None,
) -> BatchCancelResponse:
    """Stop dispatching, cancel in-flight items, keep finished outputs; 409 if it ended."""
    job = await store.jobs.get_job(job_id, project_id=principal.project_id)
    client = await temporal.get(job.temporal_namespace)
    return await service.cancel_job(
        store,
        client,
        job_id,
        reason=body.reason if body else None,
        project_id=principal.project_id,
    )


@router.post("/{job_id}/pause", response_model=BatchPauseResponse, summary="Pause Batch Job")
async def pause_batch_job(
    job_id: str, principal: PrincipalDep, store: StoreDep, temporal: TemporalDep
) -> BatchPauseResponse:
    """docbatch extension: stop dispatching new items (in-flight ones finish); 409 if ended."""
    return await _set_paused(job_id, True, principal, store, temporal)


@router.post("/{job_id}/resume", response_model=BatchPauseResponse, summary="Resume Batch Job")
async def resume_batch_job(
    job_id: str, principal: PrincipalDep, store: StoreDep, temporal: TemporalDep
) -> BatchPauseResponse:
    """docbatch extension: dispatch again after a pause; 409 if the job ended."""
    return await _set_paused(job_id, False, principal, store, temporal)


async def _set_paused(
    job_id: str, paused: bool, principal: PrincipalDep, store: StoreDep, temporal: TemporalDep
) -> BatchPauseResponse:
    job = await store.jobs.get_job(job_id, project_id=principal.project_id)
    client = await temporal.get(job.temporal_namespace)
    return await service.set_paused(store, client, job_id, paused, project_id=principal.project_id)


@router.get("/{job_id}/items", response_model=Page[JobItem], summary="List Batch Job Items")
async def list_batch_job_items(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    status: ItemStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[JobItem]:
    """A job's items in processing order, optionally by status."""
    items, total = await service.list_items(
        store, job_id, status=status, limit=limit, offset=offset, project_id=principal.project_id
    )
    return Page[JobItem](items=items, total_size=total)


@router.get(
    "/items/{item_id}/processing-results",
    response_model=JobItemGetProcessingResultsResponse,
    summary="Get Item Processing Results",
)
async def get_item_processing_results(
    item_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    job_type: JobType | None = None,
) -> JobItemGetProcessingResultsResponse:
    """Every processing result of an item, with the (redacted) config that produced it."""
    return await service.get_results(
        store, item_id, job_type=job_type, project_id=principal.project_id
    )


@router.get(
    "/{job_id}/results.jsonl",
    response_class=StreamingResponse,
    summary="Stream Batch Job Results",
    responses={
        200: {
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            "description": "One JSON object per line, one line per item, in listing order",
        }
    },
)
async def stream_batch_job_results(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    content: Annotated[
        export.ContentMode,
        Query(
            description="auto: outputs up to 1 MiB inline, larger ones by reference "
            "(output_s3_path); inline: every output; reference: none"
        ),
    ] = export.ContentMode.AUTO,
    status: ItemStatus | None = None,
) -> StreamingResponse:
    """docbatch extension: every item of a job as JSON lines, with its output.

    Each line: ``item_id``, ``item_name``, ``status``, ``error_message``,
    ``skip_reason``, ``parameters_hash``, ``result_id``, ``output_s3_path``,
    ``processing_results_path`` and ``content`` (a parse's markdown, the JSON of a
    classify or extract; null when not inline, ``content_error`` then says why if it
    was wanted). Streamed page by page: memory stays flat whatever the job's size.
    """
    job = await store.jobs.get_job(job_id, project_id=principal.project_id)
    return StreamingResponse(
        export.result_lines(store, blobs, job, mode=content, status=status),
        media_type="application/x-ndjson",
    )

"""``/api/v2/batches`` (``llama-cloud`` ≥ 2.14): a batch is a docbatch job over a source
directory, run with a saved configuration or a preset."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from docbatch import service
from docbatch.api.deps import (
    PrincipalDep,
    SettingsDep,
    StoreDep,
    TemporalDep,
    reject_nul_characters,
)
from docbatch.api.routes.v2_params import (
    IdempotencyKey,
    OrganizationId,
    PageSize,
    PageToken,
    ProductsDep,
    ProjectId,
)
from docbatch.errors import ConfigError
from docbatch.models import JobStatus
from docbatch.products import service as products
from docbatch.products.jobs import V2_BATCH_STATUS
from docbatch.products.views import (
    BatchCreate,
    BatchResponse,
    BatchStatus,
    CursorPage,
    batch_response,
)
from docbatch.store.products import (
    BatchFilter,
    ProductStore,
)

router = APIRouter(dependencies=[Depends(reject_nul_characters)])


# ------------------------------------------------------------------- batches


@router.post(
    "/api/v2/batches", response_model=BatchResponse, tags=["batches"], summary="Create Batch"
)
async def create_batch(
    body: BatchCreate,
    principal: PrincipalDep,
    store: StoreDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
    idempotency_key: IdempotencyKey = None,
) -> BatchResponse:
    """Process every file of a source directory with a saved configuration (or preset)."""
    client = await temporal.get(None)
    job = await products.create_batch(
        store,
        client,
        settings,
        body,
        project_id=principal.project_id,
        idempotency_key=idempotency_key,
    )
    return batch_response(job)


_BATCH_STATUSES: dict[str, list[JobStatus]] = {}
for _status, _shown in V2_BATCH_STATUS.items():
    _BATCH_STATUSES.setdefault(_shown, []).append(_status)


@router.get(
    "/api/v2/batches",
    response_model=CursorPage[BatchResponse],
    tags=["batches"],
    summary="List Batches",
)
async def list_batches(
    principal: PrincipalDep,
    store: ProductsDep,
    status: BatchStatus | None = None,
    source_directory_id: Annotated[str | None, Query(max_length=128)] = None,
    created_at_on_or_after: datetime | None = None,
    created_at_on_or_before: datetime | None = None,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> CursorPage[BatchResponse]:
    """The project's batches (every directory job, v2 or beta), newest first."""
    if status == "THROTTLED":
        where = BatchFilter(statuses=_BATCH_STATUSES["RUNNING"] + [JobStatus.PENDING], paused=True)
    elif status is not None:
        paused = False if status in ("RUNNING", "PENDING") else None
        where = BatchFilter(statuses=_BATCH_STATUSES[status], paused=paused)
    else:
        where = BatchFilter()
    where = BatchFilter(
        statuses=where.statuses,
        paused=where.paused,
        source_directory_id=source_directory_id,
        created_on_or_after=created_at_on_or_after,
        created_on_or_before=created_at_on_or_before,
    )
    jobs, token = await store.list_batches(
        project_id=principal.project_id, where=where, page_size=page_size, page_token=page_token
    )
    return CursorPage[BatchResponse](
        items=[batch_response(job) for job in jobs], next_page_token=token
    )


@router.get(
    "/api/v2/batches/{batch_id}",
    response_model=BatchResponse,
    tags=["batches"],
    summary="Get Batch",
)
async def get_batch(
    batch_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    expand: Annotated[list[str] | None, Query()] = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> BatchResponse:
    """A batch; ``expand=results`` adds each file's product job reference."""
    wanted = products.parse_expand(expand)
    if wanted - {"results"}:
        raise ConfigError("expand supports only: results", field="expand")
    job = await store.jobs.get_job(batch_id, project_id=principal.project_id)
    items = await ProductStore(store.database).items_of(job.id) if "results" in wanted else None
    return batch_response(job, items)


@router.post(
    "/api/v2/batches/{batch_id}/cancel",
    response_model=BatchResponse,
    tags=["batches"],
    summary="Cancel Batch",
)
async def cancel_batch(
    batch_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> BatchResponse:
    """Stop the batch; finished files keep their results. 409 if it has ended."""
    job = await store.jobs.get_job(batch_id, project_id=principal.project_id)
    batch_response(job)  # 404 for a job that is not a batch (no directory)
    client = await temporal.get(job.temporal_namespace)
    await service.cancel_job(store, client, job.id, project_id=principal.project_id)
    return batch_response(await store.jobs.get_job(job.id))

"""The v2 generation of the API (``llama-cloud`` ≥ 2.14): configurations, batches and
the parse product jobs each batch file becomes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.encoders import jsonable_encoder

from docbatch import service
from docbatch.api.deps import (
    BlobsDep,
    PrincipalDep,
    SettingsDep,
    StoreDep,
    TemporalDep,
    reject_nul_characters,
)
from docbatch.errors import ConfigError, ConflictError, NotFoundError
from docbatch.models import ItemStatus, JobStatus
from docbatch.products import service as products
from docbatch.products.jobs import V2_BATCH_STATUS, V2_PRODUCT_STATUS, parse_product_job_id
from docbatch.products.parameters import ProductType, dump_parameters
from docbatch.products.views import (
    BatchCreate,
    BatchResponse,
    BatchStatus,
    ConfigurationCreate,
    ConfigurationResponse,
    ConfigurationUpdate,
    CursorPage,
    ProductJob,
    ProductJobStatus,
)
from docbatch.store.products import BatchFilter, ProductJobFilter, ProductStore
from docbatch.store.tables import JobItemRow, JobRow

router = APIRouter(dependencies=[Depends(reject_nul_characters)])

PageSize = Annotated[int, Query(ge=1, le=1000, description="Number of items per page")]
PageToken = Annotated[str | None, Query(max_length=2048, description="Pagination token")]
# Accepted as the reference's clients send them; the API key decides the project.
ProjectId = Annotated[str | None, Query(max_length=128)]
OrganizationId = Annotated[str | None, Query(max_length=128)]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
]


def _products(store: StoreDep) -> ProductStore:
    return ProductStore(store)


ProductsDep = Annotated[ProductStore, Depends(_products)]


# ------------------------------------------------------------ configurations


@router.post(
    "/api/v1/beta/configurations",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Create Configuration",
)
async def create_configuration(
    body: ConfigurationCreate,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """Save a product configuration; the same name and product type updates it."""
    row = await store.save_configuration(
        project_id=principal.project_id,
        name=body.name,
        product_type=body.parameters.product_type,
        parameters_json=_json(dump_parameters(body.parameters)),
    )
    return products.configuration_response(row)


@router.get(
    "/api/v1/beta/configurations",
    response_model=CursorPage[ConfigurationResponse],
    tags=["configurations"],
    summary="List Configurations",
)
async def list_configurations(
    principal: PrincipalDep,
    store: ProductsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    product_type: Annotated[list[ProductType] | None, Query()] = None,
    latest_only: bool = False,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> CursorPage[ConfigurationResponse]:
    """The project's configurations, newest first (one version is kept per name)."""
    rows, token = await store.list_configurations(
        project_id=principal.project_id,
        name=name,
        product_types=[p.value for p in product_type or []],
        page_size=page_size,
        page_token=page_token,
    )
    return CursorPage[ConfigurationResponse](
        items=[products.configuration_response(r) for r in rows], next_page_token=token
    )


@router.get(
    "/api/v1/beta/configurations/{config_id}",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Get Configuration",
)
async def get_configuration(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """One configuration of the project."""
    row = await store.get_configuration(config_id, project_id=principal.project_id)
    return products.configuration_response(row)


@router.put(
    "/api/v1/beta/configurations/{config_id}",
    response_model=ConfigurationResponse,
    tags=["configurations"],
    summary="Update Configuration",
)
async def update_configuration(
    config_id: str,
    body: ConfigurationUpdate,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ConfigurationResponse:
    """Rename a configuration or replace its parameters (a new ``version``)."""
    row = await store.update_configuration(
        config_id,
        project_id=principal.project_id,
        name=body.name,
        product_type=body.parameters.product_type if body.parameters else None,
        parameters_json=_json(dump_parameters(body.parameters)) if body.parameters else None,
    )
    return products.configuration_response(row)


@router.delete(
    "/api/v1/beta/configurations/{config_id}",
    status_code=204,
    response_class=Response,
    tags=["configurations"],
    summary="Delete Configuration",
)
async def delete_configuration(
    config_id: str,
    principal: PrincipalDep,
    store: ProductsDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> Response:
    """Remove a configuration; batches started from it keep their own copy."""
    await store.delete_configuration(config_id, project_id=principal.project_id)
    return Response(status_code=204)


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
    return products.batch_response(job)


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
        items=[products.batch_response(job) for job in jobs], next_page_token=token
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
    job = await store.get_job(batch_id, project_id=principal.project_id)
    items = await ProductStore(store).items_of(job.id) if "results" in wanted else None
    return products.batch_response(job, items)


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
    job = await store.get_job(batch_id, project_id=principal.project_id)
    products.batch_response(job)  # 404 for a job that is not a batch (no directory)
    client = await temporal.get(job.temporal_namespace)
    await service.cancel_job(store, client, job.id, project_id=principal.project_id)
    return products.batch_response(await store.get_job(job.id))


# ------------------------------------------------------------- product jobs
# Every file of a batch is a product job: a parse job (``pjb-``) of a parse batch, an
# extract (``ejb-``) or classify (``cjb-``) job of the others.

_PRODUCT_STATUSES: dict[str, list[ItemStatus]] = {}
for _item_status, _shown_item in V2_PRODUCT_STATUS.items():
    _PRODUCT_STATUSES.setdefault(_shown_item, []).append(_item_status)

_JOB_TYPE = {
    ProductType.PARSE: "parse",
    ProductType.EXTRACT: "extract",
    ProductType.CLASSIFY: "classify",
}


async def _product_job(
    store: StoreDep, product: ProductType, job_id: str, project_id: str
) -> tuple[JobRow, JobItemRow]:
    noun = _JOB_TYPE[product]
    key = parse_product_job_id(product, job_id)
    if key is None:
        raise NotFoundError(f"{noun} job {job_id} not found")
    try:
        return await ProductStore(store).find_product_job(
            *key, project_id=project_id, job_type=noun
        )
    except NotFoundError:
        raise NotFoundError(f"{noun} job {job_id} not found") from None


async def _list_product_jobs(
    store: ProductStore,
    product: ProductType,
    project_id: str,
    *,
    status: str | None,
    job_ids: list[str] | None,
    created_at_on_or_after: datetime | None,
    created_at_on_or_before: datetime | None,
    page_size: int,
    page_token: str | None,
) -> tuple[list[tuple[JobRow, JobItemRow]], str | None]:
    keys = []
    for value in job_ids or []:
        key = parse_product_job_id(product, value)
        if key is None:
            raise ConfigError(f"{value} is not a {_JOB_TYPE[product]} job id", field="job_ids")
        keys.append(key)
    if status == "THROTTLED":
        return [], None
    return await store.list_product_jobs(
        project_id=project_id,
        where=ProductJobFilter(
            job_type=_JOB_TYPE[product],
            statuses=_PRODUCT_STATUSES.get(status, []) if status else [],
            created_on_or_after=created_at_on_or_after,
            created_on_or_before=created_at_on_or_before,
            keys=keys,
        ),
        page_size=page_size,
        page_token=page_token,
    )


async def _cancel_product_job(
    store: StoreDep, temporal: TemporalDep, product: ProductType, job_id: str, project_id: str
) -> tuple[JobRow, JobItemRow]:
    """Cancel the batch a product job belongs to when it is its only file; else 409."""
    job, item = await _product_job(store, product, job_id, project_id)
    if not ItemStatus(item.status).is_terminal:
        if job.total_items > 1:
            raise ConflictError(
                f"{_JOB_TYPE[product]} job {job_id} is one file of batch {job.id}; "
                "cancel the batch instead"
            )
        client = await temporal.get(job.temporal_namespace)
        await service.cancel_job(store, client, job.id, project_id=project_id)
        job, item = await _product_job(store, product, job_id, project_id)
    return job, item


@router.get(
    "/api/v2/parse",
    response_model=CursorPage[ProductJob],
    tags=["parse"],
    summary="List Parse Jobs",
)
async def list_parse_jobs(
    principal: PrincipalDep,
    store: ProductsDep,
    status: ProductJobStatus | None = None,
    job_ids: Annotated[list[str] | None, Query(max_length=1000)] = None,
    created_at_on_or_after: datetime | None = None,
    created_at_on_or_before: datetime | None = None,
    page_size: PageSize = 50,
    page_token: PageToken = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> CursorPage[ProductJob]:
    """The project's parse jobs (one per file of each parse batch), newest batch first."""
    rows, token = await _list_product_jobs(
        store,
        ProductType.PARSE,
        principal.project_id,
        status=status,
        job_ids=job_ids,
        created_at_on_or_after=created_at_on_or_after,
        created_at_on_or_before=created_at_on_or_before,
        page_size=page_size,
        page_token=page_token,
    )
    return CursorPage[ProductJob](
        items=[products.product_job(job, item) for job, item in rows], next_page_token=token
    )


@router.get("/api/v2/parse/{job_id}", tags=["parse"], summary="Get Parse Job")
async def get_parse_job(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    expand: Annotated[list[str] | None, Query()] = None,
    image_filenames: Annotated[str | None, Query(max_length=4096)] = None,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> dict[str, Any]:
    """A parse job; ``expand`` adds its text, markdown, items, metadata, …"""
    job, item = await _product_job(store, ProductType.PARSE, job_id, principal.project_id)
    return await products.parse_job_detail(store, blobs, job, item, products.parse_expand(expand))


@router.post(
    "/api/v2/parse/{job_id}/cancel",
    response_model=ProductJob,
    tags=["parse"],
    summary="Cancel Parse Job",
)
async def cancel_parse_job(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ProductJob:
    """Cancel a parse job that is its batch's only file; 409 for one file of many."""
    job, item = await _cancel_product_job(
        store, temporal, ProductType.PARSE, job_id, principal.project_id
    )
    return products.product_job(job, item)


def _add_product_routes(product: ProductType, detail: Any) -> None:
    """List, get and cancel for the extract and classify jobs (the same shape)."""
    noun = _JOB_TYPE[product]

    async def list_jobs(
        principal: PrincipalDep,
        store: ProductsDep,
        blobs: BlobsDep,
        raw: StoreDep,
        status: Annotated[str | None, Query(max_length=16)] = None,
        job_ids: Annotated[list[str] | None, Query(max_length=1000)] = None,
        created_at_on_or_after: datetime | None = None,
        created_at_on_or_before: datetime | None = None,
        page_size: PageSize = 50,
        page_token: PageToken = None,
        configuration_id: Annotated[str | None, Query(max_length=128)] = None,
        project_id: ProjectId = None,
        organization_id: OrganizationId = None,
    ) -> dict[str, Any]:
        if status is not None and status not in _PRODUCT_STATUSES and status != "THROTTLED":
            raise ConfigError(
                f"status must be one of {', '.join(sorted(_PRODUCT_STATUSES))}", field="status"
            )
        rows, token = await _list_product_jobs(
            store,
            product,
            principal.project_id,
            status=status,
            job_ids=job_ids,
            created_at_on_or_after=created_at_on_or_after,
            created_at_on_or_before=created_at_on_or_before,
            page_size=page_size,
            page_token=page_token,
        )
        items = [await detail(raw, blobs, job, item) for job, item in rows]
        if configuration_id is not None:
            items = [i for i in items if i["configuration_id"] == configuration_id]
        return {"items": jsonable_encoder(items), "next_page_token": token}

    async def get_job(
        job_id: str,
        principal: PrincipalDep,
        store: StoreDep,
        blobs: BlobsDep,
        expand: Annotated[list[str] | None, Query()] = None,
        project_id: ProjectId = None,
        organization_id: OrganizationId = None,
    ) -> dict[str, Any]:
        job, item = await _product_job(store, product, job_id, principal.project_id)
        shown: dict[str, Any] = jsonable_encoder(await detail(store, blobs, job, item))
        return shown

    async def cancel_job(
        job_id: str,
        principal: PrincipalDep,
        store: StoreDep,
        blobs: BlobsDep,
        temporal: TemporalDep,
        project_id: ProjectId = None,
        organization_id: OrganizationId = None,
    ) -> dict[str, Any]:
        job, item = await _cancel_product_job(
            store, temporal, product, job_id, principal.project_id
        )
        shown: dict[str, Any] = jsonable_encoder(await detail(store, blobs, job, item))
        return shown

    title = noun.title()
    router.add_api_route(
        f"/api/v2/{noun}", list_jobs, methods=["GET"], tags=[noun], summary=f"List {title} Jobs"
    )
    router.add_api_route(
        f"/api/v2/{noun}/{{job_id}}", get_job, methods=["GET"], tags=[noun],
        summary=f"Get {title} Job",
    )  # fmt: skip
    router.add_api_route(
        f"/api/v2/{noun}/{{job_id}}/cancel", cancel_job, methods=["POST"], tags=[noun],
        summary=f"Cancel {title} Job",
    )  # fmt: skip


_add_product_routes(ProductType.EXTRACT, products.extract_job_detail)
_add_product_routes(ProductType.CLASSIFY, products.classify_job_detail)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)

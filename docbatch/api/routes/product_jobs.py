"""The product jobs each file of a v2 batch becomes: ``/api/v2/parse`` (``pjb-``),
``/api/v2/extract`` (``ejb-``), ``/api/v2/classify`` (``cjb-``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder

from docbatch import service
from docbatch.api.deps import (
    BlobsDep,
    PrincipalDep,
    StoreDep,
    TemporalDep,
    reject_nul_characters,
)
from docbatch.api.routes.v2_params import (
    OrganizationId,
    PageSize,
    PageToken,
    ProductsDep,
    ProjectId,
)
from docbatch.errors import ConfigError, ConflictError, NotFoundError
from docbatch.models import ItemStatus
from docbatch.products import service as products
from docbatch.products.jobs import V2_PRODUCT_STATUS, parse_product_job_id
from docbatch.products.parameters import ProductType
from docbatch.products.views import (
    CursorPage,
    ProductJob,
    ProductJobStatus,
)
from docbatch.store.products import (
    ProductJobFilter,
    ProductStore,
)
from docbatch.store.tables import JobItemRow, JobRow

router = APIRouter(dependencies=[Depends(reject_nul_characters)])


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

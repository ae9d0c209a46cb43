"""The product jobs each file of a v2 batch becomes: ``/api/v2/parse`` (``pjb-``),
``/api/v2/extract`` (``ejb-``), ``/api/v2/classify`` (``cjb-``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
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
from docbatch.api.routes.directories import upload_chunks
from docbatch.api.routes.v2_params import (
    OrganizationId,
    PageSize,
    PageToken,
    ProductsDep,
    ProjectId,
)
from docbatch.errors import ConfigError, ConflictError
from docbatch.models import ItemStatus
from docbatch.products import service as products
from docbatch.products import single
from docbatch.products.jobs import V2_PRODUCT_STATUS, parse_product_job_id
from docbatch.products.parameters import ProductType
from docbatch.products.views import (
    ClassifyCreate,
    CursorPage,
    ExtractCreate,
    ParseCreate,
    ParseVersions,
    ParseVersionsLatest,
    ProductJob,
    ProductJobDeleted,
    ProductJobStatus,
    product_job,
)
from docbatch.store.products import (
    ProductJobFilter,
    ProductStore,
)
from docbatch.store.tables import JobItemRow, JobRow

router = APIRouter(dependencies=[Depends(reject_nul_characters)])

PARSE_VERSIONS = ParseVersions(
    fast=["2026-06-15", "2025-12-11"],
    cost_effective=["2026-09-28"],
    agentic=["2026-10-16"],
    agentic_plus=["2026-09-28"],
    latest=ParseVersionsLatest(
        fast="2026-06-15", cost_effective="2026-09-28", agentic="2026-10-16",
        agentic_plus="2026-09-28",
    ),
)  # fmt: skip
"""The versions each tier answers to. docbatch runs one local engine per tier whatever
the version (its own version is in each result's ``job_metadata``); any of the
reference's dated versions, or ``latest``, is accepted."""


# ------------------------------------------------------------- product jobs
# Every file of a batch is a product job: a parse job (``pjb-``) of a parse batch, an
# extract (``ejb-``) or classify (``cjb-``) job of the others.

_PRODUCT_STATUSES: dict[str, list[ItemStatus]] = {}
for _item_status, _shown_item in V2_PRODUCT_STATUS.items():
    _PRODUCT_STATUSES.setdefault(_shown_item, []).append(_item_status)


async def _product_job(
    store: StoreDep, product: ProductType, job_id: str, project_id: str
) -> tuple[JobRow, JobItemRow]:
    return await products.find_product_job(store, product, job_id, project_id=project_id)


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
            noun = products.noun_of(product)
            raise ConfigError(f"{value} is not a {noun} job id", field="job_ids")
        keys.append(key)
    if status == "THROTTLED":
        return [], None
    return await store.list_product_jobs(
        project_id=project_id,
        where=ProductJobFilter(
            job_type=products.noun_of(product),
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
                f"{products.noun_of(product)} job {job_id} is one file of batch {job.id}; "
                "cancel the batch instead"
            )
        client = await temporal.get(job.temporal_namespace)
        await service.cancel_job(store, client, job.id, project_id=project_id)
        job, item = await _product_job(store, product, job_id, project_id)
    return job, item


@router.post("/api/v2/parse", response_model=ProductJob, tags=["parse"], summary="Parse File")
async def create_parse_job(
    body: ParseCreate,
    principal: PrincipalDep,
    store: StoreDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ProductJob:
    """Parse one file of the project (``file_id``); it runs as a one-file job."""
    job, item = await single.create_parse_job(
        store, await temporal.get(None), settings, body, project_id=principal.project_id
    )
    return product_job(job, item)


@router.post(
    "/api/v2/parse/upload", response_model=ProductJob, tags=["parse"], summary="Upload And Parse"
)
async def upload_and_parse(
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    file: Annotated[UploadFile, File(description="The document")],
    configuration: Annotated[str, Form(max_length=1_000_000)] = "{}",
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ProductJob:
    """Upload a document and parse it; the file is kept in the project's ``parse
    uploads`` directory (type ``ephemeral``)."""
    job, item = await single.upload_and_parse(
        store,
        await temporal.get(None),
        settings,
        blobs,
        configuration,
        upload_chunks(file),
        project_id=principal.project_id,
        filename=file.filename,
        content_type=file.content_type,
    )
    return product_job(job, item)


@router.get(
    "/api/v2/parse/versions",
    response_model=ParseVersions,
    tags=["parse"],
    summary="List Parse Versions",
)
async def list_parse_versions(principal: PrincipalDep) -> ParseVersions:
    """The versions each tier accepts and what ``latest`` is."""
    return PARSE_VERSIONS


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
        items=[product_job(job, item) for job, item in rows], next_page_token=token
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
    return product_job(job, item)


@router.delete(
    "/api/v2/parse/{job_id}",
    response_model=ProductJobDeleted,
    tags=["parse"],
    summary="Delete Parse Job",
)
async def delete_parse_job(
    job_id: str,
    principal: PrincipalDep,
    store: StoreDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> ProductJobDeleted:
    """Delete an ended one-file parse job and its results."""
    return await single.delete_product_job(
        store, ProductType.PARSE, job_id, project_id=principal.project_id
    )


def _add_product_routes(product: ProductType, detail: Any) -> None:
    """List, get and cancel for the extract and classify jobs (the same shape)."""
    noun = products.noun_of(product)

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

    async def delete_job(
        job_id: str,
        principal: PrincipalDep,
        store: StoreDep,
        project_id: ProjectId = None,
        organization_id: OrganizationId = None,
    ) -> ProductJobDeleted:
        return await single.delete_product_job(
            store, product, job_id, project_id=principal.project_id
        )

    title = noun.title()
    router.add_api_route(
        f"/api/v2/{noun}/{{job_id}}", delete_job, methods=["DELETE"], tags=[noun],
        response_model=ProductJobDeleted, summary=f"Delete {title} Job",
    )  # fmt: skip
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


@router.post("/api/v2/extract", tags=["extract"], summary="Create Extract Job")
async def create_extract_job(
    body: ExtractCreate,
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> dict[str, Any]:
    """Extract data from one file (``file_input``: a file id or a parse job id)."""
    job, item = await single.create_extract_job(
        store, await temporal.get(None), settings, body, project_id=principal.project_id
    )
    shown: dict[str, Any] = jsonable_encoder(
        await products.extract_job_detail(store, blobs, job, item)
    )
    return shown


@router.post("/api/v2/classify", tags=["classify"], summary="Create Classify Job")
async def create_classify_job(
    body: ClassifyCreate,
    principal: PrincipalDep,
    store: StoreDep,
    blobs: BlobsDep,
    settings: SettingsDep,
    temporal: TemporalDep,
    project_id: ProjectId = None,
    organization_id: OrganizationId = None,
) -> dict[str, Any]:
    """Classify one file; the same ``transaction_id`` returns the job it made first."""
    job, item = await single.create_classify_job(
        store, await temporal.get(None), settings, body, project_id=principal.project_id
    )
    shown: dict[str, Any] = jsonable_encoder(
        await products.classify_job_detail(store, blobs, job, item)
    )
    return shown

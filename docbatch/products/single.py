"""Product jobs of one file: ``POST /api/v2/parse`` (and ``/parse/upload``),
``/api/v2/extract`` and ``/api/v2/classify``, and deleting any product job.

A one-file product job runs as a one-item docbatch job over the file's id (no source
directory, so it is not listed as a batch): the same workflows, dedup, cancel and
progress as every other job. Its product job id is that of its only item, and its
webhooks get the product's events (``parse.success``…) rather than ``batch.*``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from docbatch import directories
from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, ConflictError, NotFoundError
from docbatch.models import ItemStatus, JobStatus, format_validation_error
from docbatch.products import service
from docbatch.products.jobs import parse_product_job_id
from docbatch.products.parameters import (
    AnyParameters,
    ClassifyV2Parameters,
    ExtractV2Parameters,
    ParseV2Parameters,
    ProductType,
    dump_parameters,
)
from docbatch.products.views import (
    PARSE_CREATE_ONLY,
    ClassifyCreate,
    ExtractCreate,
    ParseCreate,
    ProductJobDeleted,
    is_single,
)
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.products import ProductStore
from docbatch.store.tables import FileRow, JobItemRow, JobRow
from docbatch.webhooks import WebhookTarget

CONFIGURED = "configured"
"""``tier``/``version`` of a request that takes them from its saved configuration."""


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: Any, *, field: str | None = None) -> M:
    """``data`` as ``model``, or a ``ConfigError`` naming the first bad field."""
    try:
        if isinstance(data, str):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        first = ".".join(str(part) for part in exc.errors(include_url=False)[0]["loc"])
        path = ".".join(part for part in (field, first) if part) or None
        message = format_validation_error(exc)
        raise ConfigError(f"{field}.{message}" if field else message, field=path) from None


# ------------------------------------------------------------------ parse


async def create_parse_job(
    store: Store, client: Client, settings: Settings, body: ParseCreate, *, project_id: str
) -> tuple[JobRow, JobItemRow]:
    """Parse one file of the project (``body.file_id``)."""
    products = ProductStore(store.database)
    parameters, hooks = await _prepare_parse(products, body, settings, project_id=project_id)
    if body.file_id is None:
        raise ConfigError("give file_id, or upload the file to /api/v2/parse/upload",
                          field="file_id")  # fmt: skip
    source = await _source_file(
        store, products, body.file_id, project_id=project_id, field="file_id"
    )
    return await _start_parse(store, client, settings, body, parameters, hooks, source)


async def _prepare_parse(
    products: ProductStore, body: ParseCreate, settings: Settings, *, project_id: str
) -> tuple[ParseV2Parameters, list[WebhookTarget]]:
    """Everything a parse request is checked for before anything is kept or started:
    its source, its parameters (configuration resolved once) and its endpoints."""
    if body.source_url is not None:
        raise ConfigError(
            "docbatch does not fetch documents from URLs; upload the file "
            "(parsing.create(upload_file=…)) or pass the file_id of a directory file",
            field="source_url",
        )
    parameters = await _parse_parameters(products, body, project_id=project_id)
    hooks = await service.batch_webhooks(
        products, None, None, parameters, settings, project_id=project_id
    )
    return parameters, hooks


async def _start_parse(
    store: Store,
    client: Client,
    settings: Settings,
    body: ParseCreate,
    parameters: ParseV2Parameters,
    hooks: list[WebhookTarget],
    source: FileRow,
) -> tuple[JobRow, JobItemRow]:
    return await _start(
        store,
        client,
        settings,
        parameters,
        source,
        hooks=hooks,
        configuration_id=body.configuration_id,
        project_id=source.project_id,
        extra={"user_metadata": body.user_metadata} if body.user_metadata else {},
    )


async def _parse_parameters(
    products: ProductStore, body: ParseCreate, *, project_id: str
) -> ParseV2Parameters:
    """The request's parse parameters: its saved configuration's (if any) overlaid with
    the options it sets itself."""
    base: dict[str, Any] = {}
    if body.configuration_id is not None:
        saved = await service.resolve_configuration(
            products, body.configuration_id, project_id=project_id, product=ProductType.PARSE,
            field="configuration_id",
        )  # fmt: skip
        base = dump_parameters(saved)
    given = body.model_dump(exclude_unset=True, exclude=set(PARSE_CREATE_ONLY))
    for name in ("tier", "version"):
        if given.get(name) in (None, CONFIGURED):
            given.pop(name, None)
            if body.configuration_id is None:
                raise ConfigError(f"{name} is required (or give configuration_id)", field=name)
    return validated(ParseV2Parameters, {**base, **given, "product_type": "parse_v2"})


async def upload_and_parse(
    store: Store,
    client: Client,
    settings: Settings,
    blobs: BlobStore,
    configuration: str,
    chunks: AsyncIterator[bytes],
    *,
    project_id: str,
    filename: str | None,
    content_type: str | None,
) -> tuple[JobRow, JobItemRow]:
    """``POST /api/v2/parse/upload``: keep the file in the project's uploads directory,
    then parse it. The ``configuration`` form field (parameters, endpoints) is checked
    before a byte is kept."""
    body = validated(ParseCreate, configuration, field="configuration")
    if body.file_id is not None:
        raise ConfigError("upload a file or give file_id, not both", field="file_id")
    products = ProductStore(store.database)
    parameters, hooks = await _prepare_parse(products, body, settings, project_id=project_id)
    uploads = await products.uploads_directory(project_id=project_id)
    name = (filename or "upload").replace("\\", "/").rsplit("/", 1)[-1] or "upload"
    stored = await directories.upload_file(
        store,
        blobs,
        uploads.id,
        chunks,
        project_id=project_id,
        filename=name,
        content_type=content_type,
        display_name=name,
        unique_id=f"{uuid.uuid4().hex}/{name}",  # an upload never replaces another
        max_bytes=settings.max_upload_bytes,
    )
    source = await store.directories.get_file(stored.id)
    return await _start_parse(store, client, settings, body, parameters, hooks, source)


# ------------------------------------------------------- extract, classify


async def create_extract_job(
    store: Store, client: Client, settings: Settings, body: ExtractCreate, *, project_id: str
) -> tuple[JobRow, JobItemRow]:
    """Extract data from one file (or the file of a parse job)."""
    products = ProductStore(store.database)
    parameters = await _product_parameters(
        products, ProductType.EXTRACT, body.configuration, body.configuration_id,
        project_id=project_id,
    )  # fmt: skip
    source = await _source_file(
        store, products, body.file_input, project_id=project_id, field="file_input"
    )
    hooks = await service.batch_webhooks(
        products, body.webhook_configurations, body.webhook_configuration_ids, parameters,
        settings, project_id=project_id,
    )  # fmt: skip
    return await _start(
        store, client, settings, parameters, source, hooks=hooks,
        configuration_id=body.configuration_id, project_id=project_id,
    )  # fmt: skip


async def create_classify_job(
    store: Store, client: Client, settings: Settings, body: ClassifyCreate, *, project_id: str
) -> tuple[JobRow, JobItemRow]:
    """Classify one file (or the file of a parse job); ``transaction_id`` makes the
    request idempotent: the same id returns the job it created first."""
    given = [
        (name, value)
        for name, value in (
            ("file_input", body.file_input),
            ("file_id", body.file_id),
            ("parse_job_id", body.parse_job_id),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of file_input, file_id or parse_job_id", field="file_input"
        )
    field, value = given[0]
    products = ProductStore(store.database)
    if body.transaction_id is not None:
        earlier = await store.jobs.find_idempotency_key(project_id, _transaction_key(body))
        if earlier is not None:
            return await _only_item(store, await store.jobs.get_job(earlier.job_id))
    parameters = await _product_parameters(
        products, ProductType.CLASSIFY, body.configuration, body.configuration_id,
        project_id=project_id,
    )  # fmt: skip
    source = await _source_file(store, products, value, project_id=project_id, field=field)
    hooks = await service.batch_webhooks(
        products, body.webhook_configurations, body.webhook_configuration_ids, parameters,
        settings, project_id=project_id,
    )  # fmt: skip
    key = _transaction_key(body) if body.transaction_id is not None else None
    try:
        return await _start(
            store, client, settings, parameters, source, hooks=hooks,
            configuration_id=body.configuration_id, project_id=project_id,
            idempotency_key=key,
        )  # fmt: skip
    except ConflictError:
        # A concurrent request with the same transaction id won; its job is the answer.
        earlier = await store.jobs.find_idempotency_key(project_id, key or "")
        if earlier is None:
            raise
        return await _only_item(store, await store.jobs.get_job(earlier.job_id))


def _transaction_key(body: ClassifyCreate) -> str:
    return f"classify:{body.transaction_id}"


async def _product_parameters(
    products: ProductStore,
    product: ProductType,
    inline: ExtractV2Parameters | ClassifyV2Parameters | None,
    configuration_id: str | None,
    *,
    project_id: str,
) -> AnyParameters:
    if (inline is None) == (configuration_id is None):
        raise ConfigError("give configuration or configuration_id (one of them)",
                          field="configuration")  # fmt: skip
    if inline is not None:
        return inline
    assert configuration_id is not None
    return await service.resolve_configuration(
        products, configuration_id, project_id=project_id, product=product,
        field="configuration_id",
    )  # fmt: skip


# ------------------------------------------------------------------ shared


async def _source_file(
    store: Store, products: ProductStore, value: str, *, project_id: str, field: str
) -> FileRow:
    """A file of the project by id, or the file a parse job of the project read."""
    key = parse_product_job_id(ProductType.PARSE, value)
    if key is not None:
        try:
            _, item = await products.find_product_job(*key, project_id=project_id, job_type="parse")
        except NotFoundError:
            raise ConfigError(f"parse job {value} not found", field=field) from None
        value = item.item_id
    found = await store.directories.get_files([value], project_id=project_id)
    if not found:
        raise ConfigError(f"file {value} not found", field=field)
    return found[0]


async def _start(
    store: Store,
    client: Client,
    settings: Settings,
    parameters: AnyParameters,
    source: FileRow,
    *,
    hooks: list[WebhookTarget],
    configuration_id: str | None,
    project_id: str,
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[JobRow, JobItemRow]:
    job = await service.start_product_job(
        store,
        client,
        settings,
        parameters,
        hooks,
        item_ids=[source.id],
        shown_job={"type": parameters.product_type, "configuration_id": configuration_id},
        project_id=project_id,
        idempotency_key=idempotency_key,
        extra={"single": True, **(extra or {})},
    )
    return await _only_item(store, job)


async def _only_item(store: Store, job: JobRow) -> tuple[JobRow, JobItemRow]:
    items = await ProductStore(store.database).items_of(job.id)
    if not items:
        raise NotFoundError(f"job {job.id} has no items")
    return job, items[0]


# ------------------------------------------------------------------ delete


async def delete_product_job(
    store: Store, product: ProductType, job_id: str, *, project_id: str
) -> ProductJobDeleted:
    """Delete an ended one-file product job and its results; 409 while it runs, and for
    one file of a batch (a batch's results stay whole)."""
    job, item = await service.find_product_job(store, product, job_id, project_id=project_id)
    if not ItemStatus(item.status).is_terminal:
        raise ConflictError(
            f"{service.noun_of(product)} job {job_id} is {item.status}; cancel it first"
        )
    if not is_single(job):
        raise ConflictError(
            f"{service.noun_of(product)} job {job_id} is one file of batch {job.id}; "
            "a batch's files are not deleted one by one"
        )
    if not JobStatus(job.status).is_terminal:
        raise ConflictError(f"job {job.id} is still finishing; try again shortly")
    await ProductStore(store.database).delete_job(job.id)
    return ProductJobDeleted(id=job_id, project_id=job.project_id)

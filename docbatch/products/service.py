"""The v2 API's use cases: configurations, batches and product jobs on docbatch's core.

A v2 batch is created by the core's ``service.create_job`` (same parent and child
workflows, dedup, continue-as-new, cancel, pause, progress and Web UI as a beta job);
only its id prefix (``bat-``) and the ``config`` it shows differ. A product job is one
item of such a job, found again from its id (``docbatch.products.jobs``).
"""

from __future__ import annotations

import json
from typing import Any

from temporalio.client import Client

from docbatch import service
from docbatch.blobs import BlobStore
from docbatch.errors import ConfigError, DocbatchError, NotFoundError
from docbatch.models import BatchCreateRequest, JobType
from docbatch.products.jobs import (
    job_config_of,
    parse_preset,
    parse_product_job_id,
)
from docbatch.products.parameters import (
    RUNNABLE_PRODUCTS,
    AnyParameters,
    ParseV2Parameters,
    ProductType,
    WebhookConfigurationV2,
    dump_parameters,
    load_parameters,
)
from docbatch.products.views import (
    BatchCreate,
    ConfigurationResponse,
    WebhookConfigResponse,
    configuration_id_of,
    product_job,
)
from docbatch.settings import Settings
from docbatch.store import Store
from docbatch.store.products import BATCH_PREFIX, ProductStore
from docbatch.store.tables import ConfigurationRow, JobItemRow, JobRow, WebhookConfigRow
from docbatch.webhooks import WebhookTarget, check_target


def configuration_response(row: ConfigurationRow) -> ConfigurationResponse:
    """A stored configuration in the reference's shape."""
    return ConfigurationResponse(
        id=row.id,
        name=row.name,
        parameters=json.loads(row.parameters_json),
        product_type=ProductType(row.product_type),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def resolve_configuration(
    products: ProductStore,
    configuration_id: str,
    *,
    project_id: str,
    product: ProductType,
    field: str = "config.job.configuration_id",
) -> AnyParameters:
    """A preset's or a saved configuration's parameters, checked against the job type."""
    parameters: AnyParameters | None = parse_preset(configuration_id)
    if parameters is None:
        try:
            row = await products.get_configuration(configuration_id, project_id=project_id)
        except NotFoundError:
            raise ConfigError(f"configuration {configuration_id} not found", field=field) from None
        parameters = load_parameters(row.parameters_json)
    if parameters.product_type != product.value:
        raise ConfigError(
            f"configuration {configuration_id} is a {parameters.product_type} configuration, "
            f"not {product.value}",
            field=field,
        )
    return parameters


async def create_batch(
    store: Store,
    client: Client,
    settings: Settings,
    body: BatchCreate,
    *,
    project_id: str,
    idempotency_key: str | None = None,
) -> JobRow:
    """Start a v2 batch: a docbatch job over the source directory, with the
    configuration's parameters mapped onto the engines'."""
    product = ProductType(body.config.job.type)
    if product not in RUNNABLE_PRODUCTS:
        raise ConfigError(
            f"{product.value} batches are not run by docbatch; batches run parse_v2, "
            "extract_v2 and classify_v2",
            field="config.job.type",
        )
    products = ProductStore(store.database)
    parameters = await resolve_configuration(
        products, body.config.job.configuration_id, project_id=project_id, product=product
    )
    hooks = await batch_webhooks(
        products,
        body.webhook_configurations,
        body.webhook_configuration_ids,
        parameters,
        settings,
        project_id=project_id,
    )
    try:
        return await start_product_job(
            store,
            client,
            settings,
            parameters,
            hooks,
            directory_id=body.source_directory_id,
            shown_job=body.config.job.model_dump(mode="json"),
            project_id=project_id,
            idempotency_key=idempotency_key,
        )
    except ConfigError as exc:
        if exc.field == "directory_id":
            raise ConfigError(str(exc), field="source_directory_id") from None
        raise


async def start_product_job(
    store: Store,
    client: Client,
    settings: Settings,
    parameters: AnyParameters,
    hooks: list[WebhookTarget],
    *,
    directory_id: str | None = None,
    item_ids: list[str] | None = None,
    shown_job: dict[str, Any],
    project_id: str,
    idempotency_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JobRow:
    """Start the docbatch job that runs ``parameters`` over a directory or some files,
    keeping what the v2 API shows of it (``batch_config_json``): the job reference as
    submitted, the parameters without webhook secrets, what was not applied and the
    endpoints copied now."""
    config, not_applied = job_config_of(parameters)
    request = BatchCreateRequest(job_config=config, directory_id=directory_id, item_ids=item_ids)
    shown = dump_parameters(parameters)
    for secret_bearing in ("webhook_configurations", "webhook_configuration_ids"):
        shown.pop(secret_bearing, None)
    snapshot = {
        "job": shown_job,
        "parameters": shown,
        "not_applied": not_applied,
        "webhooks": [hook.as_json() for hook in hooks],
        **(extra or {}),
    }
    return await service.create_job(
        store,
        client,
        settings,
        request,
        project_id=project_id,
        idempotency_key=idempotency_key,
        job_prefix=BATCH_PREFIX,
        batch_config_json=json.dumps(snapshot),
    )


async def batch_webhooks(
    products: ProductStore,
    inline_hooks: list[WebhookConfigurationV2] | None,
    hook_ids: list[str] | None,
    parameters: AnyParameters,
    settings: Settings,
    *,
    project_id: str,
) -> list[WebhookTarget]:
    """The endpoints a batch or product job notifies, copied now: its inline ones, the
    saved ones it names, and those its parse configuration names."""
    inline: list[tuple[str, dict[str, Any]]] = [
        (f"webhook_configurations.{index}", hook.model_dump())
        for index, hook in enumerate(inline_hooks or [])
    ]
    ids = list(hook_ids or [])
    if isinstance(parameters, ParseV2Parameters):
        inline += [
            (f"parameters.webhook_configurations.{index}", hook.model_dump())
            for index, hook in enumerate(parameters.webhook_configurations or [])
        ]
        ids += parameters.webhook_configuration_ids or []
    saved = {row.id: row for row in await products.get_webhook_configs(ids, project_id=project_id)}
    missing = [config_id for config_id in ids if config_id not in saved]
    if missing:
        raise ConfigError(
            f"webhook configuration {missing[0]} not found", field="webhook_configuration_ids"
        )
    targets = []
    for field, hook in inline:
        if not hook.get("webhook_url"):
            raise ConfigError("webhook_url is required", field=f"{field}.webhook_url")
        targets.append(WebhookTarget.from_json(hook))
    targets += [webhook_target(saved[config_id]) for config_id in dict.fromkeys(ids)]
    for target in targets:
        check_target(
            target.url, allow_private=settings.webhook_allow_private_targets, resolve=False
        )
    return targets


def webhook_target(row: WebhookConfigRow) -> WebhookTarget:
    """A saved webhook configuration as an endpoint."""
    return WebhookTarget(
        url=row.webhook_url,
        events=tuple(json.loads(row.events_json)) if row.events_json else None,
        headers=json.loads(row.headers_json) if row.headers_json else {},
        output_format=row.output_format or "string",
        signing_secret=row.signing_secret,
    )


def not_applied_of(job: JobRow) -> list[str]:
    """The v2 fields of a batch's configuration that no local engine honours."""
    if not job.batch_config_json:
        return []
    return list(json.loads(job.batch_config_json).get("not_applied", []))


_NOUN = {
    ProductType.PARSE: "parse",
    ProductType.EXTRACT: "extract",
    ProductType.CLASSIFY: "classify",
}


def noun_of(product: ProductType) -> str:
    """A product's job type and the noun its jobs are called by (``parse``…)."""
    return _NOUN[product]


async def find_product_job(
    store: Store, product: ProductType, job_id: str, *, project_id: str
) -> tuple[JobRow, JobItemRow]:
    """The job and item a product job id of the project names; ``NotFoundError``."""
    noun = noun_of(product)
    key = parse_product_job_id(product, job_id)
    if key is None:
        raise NotFoundError(f"{noun} job {job_id} not found")
    try:
        return await ProductStore(store.database).find_product_job(
            *key, project_id=project_id, job_type=noun
        )
    except NotFoundError:
        raise NotFoundError(f"{noun} job {job_id} not found") from None


PARSE_EXPANDS = frozenset(
    {
        "text",
        "markdown",
        "items",
        "metadata",
        "forms",
        "job_metadata",
        "usage",
        "text_content_metadata",
        "markdown_content_metadata",
        "items_content_metadata",
        "metadata_content_metadata",
        "forms_content_metadata",
        "raw_words_content_metadata",
        "xlsx_content_metadata",
        "output_pdf_content_metadata",
        "images_content_metadata",
    }
)


async def parse_job_detail(
    store: Store, blobs: BlobStore, job: JobRow, item: JobItemRow, expand: set[str]
) -> dict[str, Any]:
    """``GET /api/v2/parse/{id}``: the job, and the expanded parts of its output."""
    unknown = sorted(expand - PARSE_EXPANDS)
    if unknown:
        raise ConfigError(
            f"cannot expand {', '.join(unknown)}; expand one of {', '.join(sorted(PARSE_EXPANDS))}",
            field="expand",
        )
    detail: dict[str, Any] = {"job": product_job(job, item).model_dump(mode="json")}
    if item.result_id is None or not expand:
        return detail
    result = await store.items.get_result(item.result_id)
    output: dict[str, Any] = {}
    size = 0
    if expand - {"job_metadata", "usage"}:
        try:
            raw = await blobs.read_bytes(result.output_location)
        except DocbatchError as exc:
            detail["job"]["error_message"] = f"output unreadable: {exc}"
            return detail
        size = len(raw)
        output = json.loads(raw)
    pages = output.get("pages") or [
        {"page": 1, "text": output.get("text", ""), "markdown": output.get("markdown", "")}
    ]
    failed = [
        {"page_number": p["page"], "error": p["error"], "success": False}
        for p in output.get("failed_pages", [])
    ]
    if "markdown" in expand:
        detail["markdown"] = {
            "pages": [
                {"page_number": p["page"], "markdown": p["markdown"], "success": True}
                for p in pages
            ]
            + failed
        }
        detail["markdown_full"] = output.get("markdown", "")
    if "text" in expand:
        detail["text"] = {"pages": [{"page_number": p["page"], "text": p["text"]} for p in pages]}
        detail["text_full"] = output.get("text", "")
    if "items" in expand:
        detail["items"] = {
            "pages": [
                {
                    "page_number": p["page"],
                    "items": [{"type": "text", "value": p["text"], "md": p["markdown"]}],
                    "page_width": 0.0,
                    "page_height": 0.0,
                    "success": True,
                }
                for p in pages
            ]
            + failed
        }
    if "metadata" in expand:
        detail["metadata"] = {"pages": [{"page_number": p["page"]} for p in pages]}
    metadata = json.loads(result.output_metadata_json or "{}")
    if "job_metadata" in expand:
        detail["job_metadata"] = {
            **metadata,
            "not_applied": sorted(set(metadata.get("not_applied", [])) | set(not_applied_of(job))),
            "parameters_hash": result.parameters_hash,
            "page_count": output.get("page_count"),
        }
    if "usage" in expand:
        detail["job"]["usage"] = {"credits": 0.0}
    content = {
        name.removesuffix("_content_metadata")
        for name in expand
        if name.endswith("_content_metadata")
    }
    if content:
        detail["result_content_metadata"] = {
            name: {"size_bytes": size if name in {"text", "markdown", "items", "metadata"} else 0,
                   "exists": name in {"text", "markdown", "items", "metadata"}}
            for name in sorted(content)
        }  # fmt: skip
    return detail


def parse_expand(values: list[str] | None) -> set[str]:
    """``expand`` query values, comma-separated or repeated."""
    found: set[str] = set()
    for value in values or []:
        found |= {part.strip() for part in value.split(",") if part.strip()}
    return found


def configuration_snapshot(job: JobRow) -> dict[str, Any]:
    """The v2 parameters a job runs with: a v2 batch's as resolved at create time, a beta
    job's read back from its inline config (classify rules, extract schema)."""
    if job.batch_config_json:
        shown = json.loads(job.batch_config_json).get("parameters")
        if isinstance(shown, dict):
            return shown
    config = json.loads(job.config_json)
    if job.job_type == JobType.CLASSIFY.value:
        return {
            "rules": config.get("rules", []),
            "mode": "FAST",
            "parsing_configuration": None,
        }
    if job.job_type == JobType.EXTRACT.value:
        return {
            "data_schema": config.get("data_schema", {}),
            "system_prompt": config.get("system_prompt"),
        }
    return {}


async def _output(store: Store, blobs: BlobStore, item: JobItemRow) -> dict[str, Any] | None:
    if item.result_id is None:
        return None
    result = await store.items.get_result(item.result_id)
    try:
        document = json.loads(await blobs.read_bytes(result.output_location))
    except (DocbatchError, ValueError):
        return None
    return document if isinstance(document, dict) else None


async def extract_job_detail(
    store: Store, blobs: BlobStore, job: JobRow, item: JobItemRow
) -> dict[str, Any]:
    """``GET /api/v2/extract/{id}``: the job with its configuration and extracted data."""
    base = product_job(job, item)
    output = await _output(store, blobs, item)
    configuration = configuration_snapshot(job)
    configuration.pop("product_type", None)
    return {
        "id": base.id,
        "project_id": base.project_id,
        "status": base.status,
        "created_at": base.created_at,
        "updated_at": base.updated_at,
        "file_input": item.item_id,
        "error_message": base.error_message,
        "configuration": configuration,
        "configuration_id": configuration_id_of(job),
        "extract_result": output.get("data") if output else None,
        "extract_metadata": {"schema_name": output.get("schema_name")} if output else None,
    }


async def classify_job_detail(
    store: Store, blobs: BlobStore, job: JobRow, item: JobItemRow
) -> dict[str, Any]:
    """``GET /api/v2/classify/{id}``: the job with its rules and the type it was given."""
    base = product_job(job, item)
    output = await _output(store, blobs, item)
    configuration = configuration_snapshot(job)
    configuration.pop("product_type", None)
    result = None
    if output is not None:
        result = {
            "type": output.get("type"),
            "confidence": float(output.get("confidence") or 0.0),
            "reasoning": str(output.get("reasoning") or ""),
        }
    return {
        "id": base.id,
        "project_id": base.project_id,
        "status": base.status,
        "created_at": base.created_at,
        "updated_at": base.updated_at,
        "document_input_type": "file_id",
        "file_input": item.item_id,
        "user_id": job.project_id,
        "error_message": base.error_message,
        "configuration": configuration,
        "configuration_id": configuration_id_of(job),
        "result": result,
    }


REDACTED_HEADER = "[redacted]"


def webhook_config_response(row: WebhookConfigRow) -> WebhookConfigResponse:
    """A saved webhook configuration as the reference shows it, secrets withheld: the
    signing secret only as ``has_secret``, header names without their values."""
    headers = json.loads(row.headers_json) if row.headers_json else None
    return WebhookConfigResponse(
        id=row.id,
        has_secret=bool(row.signing_secret),
        tenant_id=row.project_id,
        tenant_type="project",
        webhook_url=row.webhook_url,
        webhook_events=json.loads(row.events_json) if row.events_json else None,
        webhook_headers=dict.fromkeys(headers, REDACTED_HEADER) if headers else headers,
        webhook_output_format=row.output_format,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )

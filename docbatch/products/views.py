"""The v2 API's request and response shapes, field for field as ``llama-cloud`` 2.19."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from docbatch.errors import NotFoundError
from docbatch.models import ItemStatus, JobStatus, JobType
from docbatch.products.jobs import V2_BATCH_STATUS, V2_PRODUCT_STATUS, product_job_id
from docbatch.products.parameters import (
    PRODUCT_OF_JOB_TYPE,
    ClassifyV2Parameters,
    ExtractV2Parameters,
    Parameters,
    ParseV2Parameters,
    ProductType,
    Tier,
    WebhookConfigurationV2,
    WebhookEventV2,
)
from docbatch.store.tables import JobItemRow, JobRow

T = TypeVar("T")

BatchStatus = Literal["CANCELLED", "COMPLETED", "FAILED", "PENDING", "RUNNING", "THROTTLED"]
ProductJobStatus = Literal["CANCELLED", "COMPLETED", "FAILED", "PENDING", "RUNNING"]
BatchJobType = Literal["parse_v2", "extract_v2", "classify_v2", "split_v1", "spreadsheet_v1"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=100_000)


class CursorPage(BaseModel, Generic[T]):
    """A page of a v2 listing; ``next_page_token`` is null on the last page."""

    items: list[T]
    next_page_token: str | None = None


# ------------------------------------------------------------ configurations


class ConfigurationCreate(_Body):
    name: str = Field(min_length=1, max_length=255)
    parameters: Parameters


class ConfigurationUpdate(_Body):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    parameters: Parameters | None = None


class ConfigurationResponse(BaseModel):
    id: str
    name: str
    parameters: dict[str, Any]
    product_type: ProductType
    version: str
    created_at: datetime | None = None
    updated_at: datetime | None = None


# ------------------------------------------------------------------- batches


class BatchJobConfig(_Body):
    type: BatchJobType
    configuration_id: str = Field(min_length=1, max_length=128)


class BatchConfig(_Body):
    job: BatchJobConfig


InlineWebhook = WebhookConfigurationV2
"""A batch's inline endpoint: the same shape as a parse configuration's."""


class BatchCreate(_Body):
    config: BatchConfig
    source_directory_id: str = Field(min_length=1, max_length=128)
    webhook_configuration_ids: list[str] | None = None
    webhook_configurations: list[InlineWebhook] | None = None


class JobReference(BaseModel):
    id: str
    type: str


class BatchResult(BaseModel):
    source_directory_file_id: str
    job_reference: JobReference | None = None
    error_message: str | None = None


class BatchResponse(BaseModel):
    id: str
    config: BatchConfig
    project_id: str
    source_directory_id: str
    status: BatchStatus
    created_at: datetime | None = None
    updated_at: datetime | None = None
    results: list[BatchResult] | None = None


def batch_status(job: JobRow) -> BatchStatus:
    """The v2 status of a job: a paused one that has not ended is ``THROTTLED``."""
    status = JobStatus(job.status)
    if job.paused and not status.is_terminal:
        return "THROTTLED"
    return V2_BATCH_STATUS[status]  # type: ignore[return-value]


# -------------------------------------------------------------- product jobs


class ProductJob(BaseModel):
    """A product job (one file of a batch) as ``parsing.get``/``list`` show it."""

    id: str
    project_id: str
    status: ProductJobStatus
    created_at: datetime | None = None
    updated_at: datetime | None = None
    error_message: str | None = None
    name: str | None = None
    tier: str | None = None
    user_metadata: dict[str, str] | None = None


class ProductJobDeleted(BaseModel):
    """What a deleted product job was: it can no longer be fetched."""

    id: str
    project_id: str


UserMetadata = dict[str, str]
USER_METADATA_LIMITS = (64, 128, 1024)
"""At most 64 entries, keys up to 128 and values up to 1,024 characters."""


def check_user_metadata(value: UserMetadata | None) -> UserMetadata | None:
    entries, key_length, value_length = USER_METADATA_LIMITS
    if value is None:
        return None
    if len(value) > entries:
        raise ValueError(f"at most {entries} entries")
    for key, text in value.items():
        if not key or len(key) > key_length:
            raise ValueError(f"keys must be 1 to {key_length} characters")
        if len(text) > value_length:
            raise ValueError(f"value of {key!r} is longer than {value_length} characters")
    return value


class ParseCreate(ParseV2Parameters):
    """``POST /api/v2/parse``: one file parsed with inline options, a saved
    configuration (``configuration_id``; ``tier``/``version`` may then be omitted or
    ``configured``) or both, the inline options winning."""

    product_type: Literal["parse_v2"] = "parse_v2"
    tier: Tier | Literal["configured"] | None = None  # type: ignore[assignment]
    version: str | None = Field(default=None, min_length=1, max_length=32)  # type: ignore[assignment]
    configuration_id: str | None = Field(default=None, min_length=1, max_length=128)
    file_id: str | None = Field(default=None, min_length=1, max_length=128)
    source_url: str | None = Field(default=None, max_length=4096)
    http_proxy: str | None = Field(default=None, max_length=4096)
    user_metadata: UserMetadata | None = None

    _metadata = field_validator("user_metadata")(check_user_metadata)


PARSE_CREATE_ONLY = frozenset(
    {"configuration_id", "file_id", "source_url", "http_proxy", "user_metadata"}
)
"""Fields of a parse request that are not parse parameters."""


class ExtractConfiguration(ExtractV2Parameters):
    """An extract job's inline configuration (the ``extract_v2`` parameters)."""

    product_type: Literal["extract_v2"] = "extract_v2"


class ClassifyConfiguration(ClassifyV2Parameters):
    """A classify job's inline configuration (the ``classify_v2`` parameters)."""

    product_type: Literal["classify_v2"] = "classify_v2"


class ExtractCreate(_Body):
    """``POST /api/v2/extract``: one file (or a parse job's file) extracted."""

    file_input: str = Field(min_length=1, max_length=128)
    configuration: ExtractConfiguration | None = None
    configuration_id: str | None = Field(default=None, min_length=1, max_length=128)
    webhook_configuration_ids: list[str] | None = None
    webhook_configurations: list[InlineWebhook] | None = None


class ClassifyCreate(_Body):
    """``POST /api/v2/classify``: one file (or a parse job's file) classified.
    ``file_id`` and ``parse_job_id`` are the reference's deprecated ``file_input``."""

    file_input: str | None = Field(default=None, min_length=1, max_length=128)
    file_id: str | None = Field(default=None, min_length=1, max_length=128)
    parse_job_id: str | None = Field(default=None, min_length=1, max_length=128)
    configuration: ClassifyConfiguration | None = None
    configuration_id: str | None = Field(default=None, min_length=1, max_length=128)
    transaction_id: str | None = Field(default=None, min_length=1, max_length=255)
    webhook_configuration_ids: list[str] | None = None
    webhook_configurations: list[InlineWebhook] | None = None


class ParseVersionsLatest(BaseModel):
    fast: str
    cost_effective: str
    agentic: str
    agentic_plus: str


class ParseVersions(BaseModel):
    """``GET /api/v2/parse/versions``: the versions each tier accepts."""

    fast: list[str]
    cost_effective: list[str]
    agentic: list[str]
    agentic_plus: list[str]
    latest: ParseVersionsLatest


def product_status(item: JobItemRow) -> ProductJobStatus:
    """The v2 status of one item; a file over the size limit is ``FAILED``."""
    if item.skip_reason == "size_limit_exceeded":
        return "FAILED"
    return V2_PRODUCT_STATUS[ItemStatus(item.status)]  # type: ignore[return-value]


# ------------------------------------------------------------ webhook configs


class WebhookConfigCreate(_Body):
    webhook_url: str = Field(min_length=1, max_length=2048)
    webhook_events: list[WebhookEventV2] | None = Field(default=None, min_length=1)
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["json", "string"] | None = None
    webhook_signing_secret: str | None = Field(default=None, min_length=1, max_length=512)


class WebhookConfigUpdate(_Body):
    webhook_url: str | None = Field(default=None, min_length=1, max_length=2048)
    webhook_events: list[WebhookEventV2] | None = Field(default=None, min_length=1)
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["json", "string"] | None = None
    webhook_signing_secret: str | None = Field(default=None, min_length=1, max_length=512)


class WebhookConfigResponse(BaseModel):
    id: str
    has_secret: bool
    tenant_id: str
    tenant_type: Literal["project"] = "project"
    webhook_url: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    webhook_events: list[str] | None = None
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["json", "string"] | None = None


class WebhookConfigPage(CursorPage[WebhookConfigResponse]):
    total_size: int | None = None


# ---------------------------------------------------------- jobs as batches

INLINE_CONFIGURATION = "inline"
"""The ``configuration_id`` a beta job shows through the v2 API (its config is inline)."""


def batch_config(job: JobRow) -> BatchConfig:
    """The ``config`` a job shows: a v2 batch's as submitted; a beta job's as ``inline``."""
    if job.batch_config_json:
        return BatchConfig(job=BatchJobConfig(**json.loads(job.batch_config_json)["job"]))
    product = PRODUCT_OF_JOB_TYPE[JobType(job.job_type)]
    job_config = BatchJobConfig(type=product.value, configuration_id=INLINE_CONFIGURATION)
    return BatchConfig(job=job_config)


def configuration_id_of(job: JobRow) -> str | None:
    """The saved configuration (or preset) a job runs: none for a one-file job given
    its configuration inline, ``inline`` for a beta job."""
    if job.batch_config_json:
        shown = json.loads(job.batch_config_json)["job"].get("configuration_id")
        return shown if isinstance(shown, str) else None
    return INLINE_CONFIGURATION


def product_of(job: JobRow) -> ProductType:
    """The product a job's items are jobs of."""
    return PRODUCT_OF_JOB_TYPE[JobType(job.job_type)]


def batch_response(job: JobRow, items: list[JobItemRow] | None = None) -> BatchResponse:
    """A job in the v2 batch shape; ``items`` expands ``results``."""
    if job.directory_id is None:
        raise NotFoundError(f"batch {job.id} not found")
    results = None
    if items is not None:
        product = product_of(job)
        results = [
            BatchResult(
                source_directory_file_id=item.item_id,
                job_reference=JobReference(
                    type=product.value, id=product_job_id(product, job.id, item.ordinal)
                ),
            )
            for item in items
        ]
    return BatchResponse(
        id=job.id,
        config=batch_config(job),
        project_id=job.project_id,
        source_directory_id=job.directory_id,
        status=batch_status(job),
        created_at=job.created_at,
        updated_at=job.updated_at,
        results=results,
    )


def _tier_of(job: JobRow) -> str | None:
    try:
        config = json.loads(job.config_json)
    except ValueError:
        return None
    parameters = config.get("parameters") if isinstance(config, dict) else None
    tier = parameters.get("tier") if isinstance(parameters, dict) else None
    return tier if isinstance(tier, str) else None


def product_job(job: JobRow, item: JobItemRow) -> ProductJob:
    """One item of a job as a product job."""
    status = product_status(item)
    shown = json.loads(job.batch_config_json) if job.batch_config_json else None
    error = item.error_message
    if item.skip_reason == "size_limit_exceeded" and not error:
        error = f"file exceeds the size limit of {job.max_file_size_bytes} bytes"
    return ProductJob(
        id=product_job_id(product_of(job), job.id, item.ordinal),
        project_id=job.project_id,
        status=status,
        created_at=job.created_at,
        updated_at=item.updated_at,
        error_message=error,
        # A one-file job is named after its file (an upload's path holds a unique key).
        name=item.item_name.rsplit("/", 1)[-1] if shown and shown.get("single") else item.item_name,
        tier=_tier_of(job),
        user_metadata=shown.get("user_metadata") if shown else None,
    )


def is_single(job: JobRow) -> bool:
    """Whether a job is one product job (created for one file), not a batch."""
    if not job.batch_config_json:
        return False
    return bool(json.loads(job.batch_config_json).get("single"))

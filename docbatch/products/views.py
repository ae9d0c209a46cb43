"""The v2 API's request and response shapes, field for field as ``llama-cloud`` 2.19."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from docbatch.models import ItemStatus, JobStatus
from docbatch.products.jobs import V2_BATCH_STATUS, V2_PRODUCT_STATUS
from docbatch.products.parameters import Parameters, ProductType
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


class InlineWebhook(_Body):
    webhook_url: str | None = Field(default=None, max_length=2048)
    webhook_events: list[str] | None = None
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["json", "string"] | None = None
    webhook_signing_secret: str | None = Field(default=None, max_length=512)


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


def product_status(item: JobItemRow) -> ProductJobStatus:
    """The v2 status of one item; a file over the size limit is ``FAILED``."""
    if item.skip_reason == "size_limit_exceeded":
        return "FAILED"
    return V2_PRODUCT_STATUS[ItemStatus(item.status)]  # type: ignore[return-value]


class ProductJobDeleted(BaseModel):
    id: str
    deleted: bool = True

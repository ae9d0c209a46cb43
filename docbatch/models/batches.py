"""The batch-processing endpoints' bodies and answers: jobs, their items and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from docbatch.models.base import _Request, _Response
from docbatch.models.enums import ItemStatus, JobStatus, JobType, SkipReason
from docbatch.models.jobs import JobConfig

T = TypeVar("T")


class BatchCreateRequest(_Request):
    """Body of ``POST /api/v1/beta/batch-processing``."""

    job_config: JobConfig
    directory_id: str | None = None
    item_ids: list[str] | None = Field(default=None, validate_default=True)
    page_size: int | None = Field(default=None, gt=0, le=5000)
    continue_as_new_threshold: int | None = Field(default=None, gt=0, le=1_000_000)

    @field_validator("item_ids", mode="after")
    @classmethod
    def _exactly_one_source(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        # Validated on item_ids (declared after directory_id) so errors name a field.
        directory_id = info.data.get("directory_id")
        if value is not None and not value:
            raise ValueError("must not be empty: list the items, or give directory_id instead")
        if value is None and directory_id is None:
            raise ValueError("provide either directory_id or item_ids")
        if value is not None and directory_id is not None:
            raise ValueError("provide either directory_id or item_ids, not both")
        return value


class BatchJob(_Response):
    """A batch processing job (the reference's BatchCreateResponse / BatchListResponse)."""

    id: str
    job_type: JobType
    project_id: str
    status: JobStatus
    total_items: int
    completed_at: datetime | None = None
    created_at: datetime | None = None
    directory_id: str | None = None
    effective_at: datetime | None = None
    error_message: str | None = None
    failed_items: int | None = None
    job_record_id: str | None = None
    processed_items: int | None = None
    skipped_items: int | None = None
    started_at: datetime | None = None
    updated_at: datetime | None = None
    workflow_id: str | None = None
    retry_of: str | None = None
    """docbatch extension: the job whose failed items this job retries."""
    paused: bool = False
    """docbatch extension: dispatching is paused (``status`` stays ``running``)."""


class BatchGetStatusResponse(_Response):
    """Detailed status of a job with its progress percentage."""

    job: BatchJob
    progress_percentage: float = Field(ge=0, le=100)
    throughput_items_per_second: float | None = Field(default=None, ge=0)
    """docbatch extension: items processed per second lately (null until known)."""
    eta_seconds: float | None = Field(default=None, ge=0)
    """docbatch extension: estimated seconds until every item ended (0 once ended)."""


class BatchCancelRequest(_Request):
    """Body of the cancel call."""

    reason: str | None = None


class BatchCancelResponse(_Response):
    """Answer to a cancel call."""

    job_id: str
    message: str
    processed_items: int
    status: JobStatus


class BatchPauseResponse(_Response):
    """docbatch extension: answer to a pause or resume call."""

    job_id: str
    message: str
    paused: bool
    status: JobStatus
    """The reference's status (``running`` while paused: it has no ``paused``)."""


class JobItem(_Response):
    """One item of a batch job (the reference's JobItemListResponse)."""

    item_id: str
    item_name: str
    status: ItemStatus
    completed_at: datetime | None = None
    effective_at: datetime | None = None
    error_message: str | None = None
    job_id: str | None = None
    job_record_id: str | None = None
    skip_reason: SkipReason | None = None
    started_at: datetime | None = None


class ProcessingResult(_Response):
    """One processing operation performed on an item."""

    item_id: str
    job_config: dict[str, Any]
    job_type: JobType
    output_s3_path: str
    parameters_hash: str
    processed_at: datetime
    result_id: str
    output_metadata: dict[str, Any] | None = None


class JobItemGetProcessingResultsResponse(_Response):
    """All processing results of one item."""

    item_id: str
    item_name: str
    processing_results: list[ProcessingResult] | None = None


class Page(BaseModel, Generic[T]):
    """A page of a list endpoint (``items``, ``next_page_token``, ``total_size``)."""

    items: list[T]
    next_page_token: str | None = None
    total_size: int | None = None

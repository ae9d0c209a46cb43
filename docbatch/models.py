"""The domain and wire models of docbatch (pydantic v2), in one module.

Field names, enums and response shapes copy the reference *beta batch processing* API
(``shared/reference/``) so that its clients work against docbatch unchanged. Request
models forbid unknown fields so a typo is an error that names the field, never a
setting silently ignored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

T = TypeVar("T")

# --------------------------------------------------------------------------- enums


class JobType(StrEnum):
    """Type of processing operation."""

    PARSE = "parse"
    EXTRACT = "extract"
    CLASSIFY = "classify"


class JobStatus(StrEnum):
    """Status of a batch job: pending → running → dispatched → completed/failed/cancelled."""

    PENDING = "pending"
    RUNNING = "running"
    DISPATCHED = "dispatched"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the job has ended and can change no more."""
        return self in TERMINAL_JOB_STATUSES


TERMINAL_JOB_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class ItemStatus(StrEnum):
    """Processing status of one item of a batch job."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the item has reached its final status."""
        return self in TERMINAL_ITEM_STATUSES


TERMINAL_ITEM_STATUSES = frozenset(
    {ItemStatus.COMPLETED, ItemStatus.FAILED, ItemStatus.SKIPPED, ItemStatus.CANCELLED}
)


class SkipReason(StrEnum):
    """Why an item was skipped without a child workflow."""

    ALREADY_PROCESSED = "already_processed"
    SIZE_LIMIT_EXCEEDED = "size_limit_exceeded"


class ClassifyMode(StrEnum):
    """Classification mode."""

    FAST = "FAST"
    MULTIMODAL = "MULTIMODAL"


class ParsingMode(StrEnum):
    """Mode of parsing to be used."""

    PARSE_PAGE_WITHOUT_LLM = "parse_page_without_llm"
    PARSE_PAGE_WITH_LLM = "parse_page_with_llm"
    PARSE_PAGE_WITH_LVM = "parse_page_with_lvm"
    PARSE_PAGE_WITH_AGENT = "parse_page_with_agent"
    PARSE_PAGE_WITH_LAYOUT_AGENT = "parse_page_with_layout_agent"
    PARSE_DOCUMENT_WITH_LLM = "parse_document_with_llm"
    PARSE_DOCUMENT_WITH_LVM = "parse_document_with_lvm"
    PARSE_DOCUMENT_WITH_AGENT = "parse_document_with_agent"


class FailPageMode(StrEnum):
    """What replaces a page that failed to parse."""

    RAW_TEXT = "raw_text"
    BLANK_PAGE = "blank_page"
    ERROR_MESSAGE = "error_message"


Priority = Literal["low", "medium", "high", "critical"]
ImageToSave = Literal["screenshot", "embedded", "layout"]
ParsingLanguage = Literal[
    "af", "az", "bs", "cs", "cy", "da", "de", "en", "es", "et", "fr", "ga", "hr", "hu",
    "id", "is", "it", "ku", "la", "lt", "lv", "mi", "ms", "mt", "nl", "no", "oc", "pi",
    "pl", "pt", "ro", "rs_latin", "sk", "sl", "sq", "sv", "sw", "tl", "tr", "uz", "vi",
    "ar", "fa", "ug", "ur", "bn", "as", "mni", "ru", "rs_cyrillic", "be", "bg", "uk",
    "mn", "abq", "ady", "kbd", "ava", "dar", "inh", "che", "lbe", "lez", "tab", "tjk",
    "hi", "mr", "ne", "bh", "mai", "ang", "bho", "mah", "sck", "new", "gom", "sa", "bgc",
    "th", "ch_sim", "ch_tra", "ja", "ko", "ta", "te", "kn",
]  # fmt: skip
WebhookEvent = Literal[
    "extract.pending", "extract.success", "extract.error", "extract.partial_success",
    "extract.cancelled", "parse.pending", "parse.running", "parse.success", "parse.error",
    "parse.partial_success", "parse.cancelled", "classify.pending", "classify.running",
    "classify.success", "classify.error", "classify.partial_success", "classify.cancelled",
    "sheets.pending", "sheets.success", "sheets.error", "sheets.partial_success",
    "sheets.cancelled", "unmapped_event",
]  # fmt: skip


# ------------------------------------------------------------------- job configs


def contains_nul(value: object) -> bool:
    """Whether a string (or a string in a JSON value) contains a NUL character.

    No text field means anything with one, and PostgreSQL cannot store it: such input is
    refused at the edge instead of failing in the database.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


class _Request(BaseModel):
    """Base of request models: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


class WebhookConfiguration(_Request):
    """An outbound webhook endpoint notified on job status changes."""

    webhook_url: str | None = None
    webhook_events: list[WebhookEvent] | None = None
    webhook_headers: dict[str, str] | None = None
    webhook_output_format: Literal["string", "json"] | None = None
    webhook_signing_secret: str | None = None


class ParseParameters(_Request):
    """Generic parse configuration applied to every file of a batch (reference names)."""

    adaptive_long_table: bool | None = None
    aggressive_table_extraction: bool | None = None
    annotate_links: bool | None = None
    auto_mode: bool | None = None
    auto_mode_configuration_json: str | None = None
    auto_mode_trigger_on_image_in_page: bool | None = None
    auto_mode_trigger_on_regexp_in_page: str | None = None
    auto_mode_trigger_on_table_in_page: bool | None = None
    auto_mode_trigger_on_text_in_page: str | None = None
    azure_openai_api_version: str | None = None
    azure_openai_deployment_name: str | None = None
    azure_openai_endpoint: str | None = None
    azure_openai_key: str | None = None
    bbox_bottom: float | None = None
    bbox_left: float | None = None
    bbox_right: float | None = None
    bbox_top: float | None = None
    bounding_box: str | None = None
    compact_markdown_table: bool | None = None
    complemental_formatting_instruction: str | None = None
    content_guideline_instruction: str | None = None
    continuous_mode: bool | None = None
    custom_metadata: dict[str, Any] | None = None
    disable_image_extraction: bool | None = None
    disable_ocr: bool | None = None
    disable_reconstruction: bool | None = None
    do_not_cache: bool | None = None
    do_not_unroll_columns: bool | None = None
    enable_cost_optimizer: bool | None = None
    extract_charts: bool | None = None
    extract_layout: bool | None = None
    extract_printed_page_number: bool | None = None
    fast_mode: bool | None = None
    formatting_instruction: str | None = None
    gpt4o_api_key: str | None = None
    gpt4o_mode: bool | None = None
    guess_xlsx_sheet_name: bool | None = None
    hide_footers: bool | None = None
    hide_headers: bool | None = None
    high_res_ocr: bool | None = None
    html_make_all_elements_visible: bool | None = None
    html_remove_fixed_elements: bool | None = None
    html_remove_navigation_elements: bool | None = None
    http_proxy: str | None = None
    ignore_document_elements_for_layout_detection: bool | None = None
    images_to_save: list[ImageToSave] | None = None
    inline_images_in_markdown: bool | None = None
    input_s3_path: str | None = None
    input_s3_region: str | None = None
    input_url: str | None = None
    internal_is_screenshot_job: bool | None = None
    invalidate_cache: bool | None = None
    is_formatting_instruction: bool | None = None
    job_timeout_extra_time_per_page_in_seconds: float | None = None
    job_timeout_in_seconds: float | None = None
    keep_page_separator_when_merging_tables: bool | None = None
    lang: str | None = None
    languages: list[ParsingLanguage] | None = None
    layout_aware: bool | None = None
    line_level_bounding_box: bool | None = None
    markdown_table_multiline_header_separator: str | None = None
    max_pages: int | None = None
    max_pages_enforced: int | None = None
    merge_tables_across_pages_in_markdown: bool | None = None
    model: str | None = None
    outlined_table_extraction: bool | None = None
    output_bucket: str | None = Field(
        default=None,
        validation_alias=AliasChoices("outputBucket", "output_bucket"),
        serialization_alias="outputBucket",
    )
    output_pdf_of_document: bool | None = None
    output_s3_path_prefix: str | None = None
    output_s3_region: str | None = None
    output_tables_as_html: bool | None = Field(
        default=None,
        validation_alias=AliasChoices("output_tables_as_HTML", "output_tables_as_html"),
        serialization_alias="output_tables_as_HTML",
    )
    page_error_tolerance: float | None = None
    page_footer_prefix: str | None = None
    page_footer_suffix: str | None = None
    page_header_prefix: str | None = None
    page_header_suffix: str | None = None
    page_prefix: str | None = None
    page_separator: str | None = None
    page_suffix: str | None = None
    parse_mode: ParsingMode | None = None
    parsing_instruction: str | None = None
    pipeline_id: str | None = None
    precise_bounding_box: bool | None = None
    premium_mode: bool | None = None
    presentation_out_of_bounds_content: bool | None = None
    presentation_skip_embedded_data: bool | None = None
    preserve_layout_alignment_across_pages: bool | None = None
    preserve_very_small_text: bool | None = None
    preset: str | None = None
    priority: Priority | None = None
    project_id: str | None = None
    remove_hidden_text: bool | None = None
    replace_failed_page_mode: FailPageMode | None = None
    replace_failed_page_with_error_message_prefix: str | None = None
    replace_failed_page_with_error_message_suffix: str | None = None
    resource_info: dict[str, Any] | None = None
    save_images: bool | None = None
    skip_diagonal_text: bool | None = None
    specialized_chart_parsing_agentic: bool | None = None
    specialized_chart_parsing_efficient: bool | None = None
    specialized_chart_parsing_plus: bool | None = None
    specialized_image_parsing: bool | None = None
    spreadsheet_extract_sub_tables: bool | None = None
    spreadsheet_force_formula_computation: bool | None = None
    spreadsheet_include_hidden_sheets: bool | None = None
    strict_mode_buggy_font: bool | None = None
    strict_mode_image_extraction: bool | None = None
    strict_mode_image_ocr: bool | None = None
    strict_mode_reconstruction: bool | None = None
    structured_output: bool | None = None
    structured_output_json_schema: str | None = None
    structured_output_json_schema_name: str | None = None
    system_prompt: str | None = None
    system_prompt_append: str | None = None
    take_screenshot: bool | None = None
    target_pages: str | None = None
    tier: str | None = None
    type: Literal["parse"] | None = None
    use_vendor_multimodal_model: bool | None = None
    user_prompt: str | None = None
    vendor_multimodal_api_key: str | None = None
    vendor_multimodal_model_name: str | None = None
    version: str | None = None
    webhook_configurations: list[WebhookConfiguration] | None = None
    webhook_url: str | None = None

    @field_validator("target_pages")
    @classmethod
    def _check_target_pages(cls, value: str | None) -> str | None:
        if value is not None:
            parse_page_ranges(value)
        return value

    @field_validator("structured_output_json_schema")
    @classmethod
    def _check_structured_schema(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                schema = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("must be a JSON Schema as a JSON string") from None
            check_json_schema(schema)
        return value

    @field_validator("max_pages", "max_pages_enforced")
    @classmethod
    def _check_non_negative_int(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("must be >= 0")
        return value

    @field_validator("job_timeout_in_seconds", "job_timeout_extra_time_per_page_in_seconds")
    @classmethod
    def _check_non_negative_float(cls, value: float | None) -> float | None:
        if value is not None and value < 0:
            raise ValueError("must be >= 0")
        return value

    @field_validator("page_error_tolerance")
    @classmethod
    def _check_tolerance(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError("must be between 0 and 1")
        return value


def parse_page_ranges(spec: str) -> list[int]:
    """Turn the reference's ``target_pages`` string ("0,2-4", 0-indexed) into page numbers."""
    pages: list[int] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        start, sep, end = part.partition("-")
        try:
            first = int(start)
            last = int(end) if sep else first
        except ValueError:
            raise ValueError(
                f"invalid page range {part!r}: use 0-indexed numbers like '0,2-4'"
            ) from None
        if first < 0 or last < first:
            raise ValueError(f"invalid page range {part!r}: use 0-indexed numbers like '0,2-4'")
        pages.extend(range(first, last + 1))
    if not pages:
        raise ValueError("target_pages names no page: use 0-indexed numbers like '0,2-4'")
    return sorted(set(pages))


class BatchParseJobRecordCreate(_Request):
    """A batch parse job config: the parse ``parameters`` plus job metadata."""

    job_name: Literal["parse_raw_file_job"] | None = None
    parameters: ParseParameters | None = None
    correlation_id: str | None = None
    parent_job_execution_id: str | None = None
    partitions: dict[str, str] | None = None
    project_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    webhook_url: str | None = None


class ClassifierRule(_Request):
    """One classification rule: the type to assign and when it applies."""

    type: str = Field(min_length=1, max_length=50)
    description: str = Field(min_length=10, max_length=500)


class ClassifyParsingConfiguration(_Request):
    """How documents are parsed before they are classified."""

    lang: ParsingLanguage | None = None
    max_pages: int | None = Field(default=None, ge=0)
    target_pages: list[Annotated[int, Field(ge=0)]] | None = None


class ClassifyJob(_Request):
    """A classify job config: natural-language rules mapping documents to types."""

    rules: list[ClassifierRule] = Field(min_length=1)
    mode: ClassifyMode | None = None
    parsing_configuration: ClassifyParsingConfiguration | None = None
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)
    """docbatch extension: below this confidence the type is ``unknown``."""
    # Descriptive fields the reference's ClassifyJob carries; accepted, not required.
    id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    status: Literal["PENDING", "SUCCESS", "ERROR", "PARTIAL_SUCCESS", "CANCELLED"] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    effective_at: datetime | None = None
    error_message: str | None = None
    job_record_id: str | None = None


class ExtractJob(_Request):
    """An extract job config (docbatch's own): a JSON Schema the LLM endpoint fills."""

    data_schema: dict[str, Any]
    parameters: ParseParameters | None = None
    """How the document is read before extraction (the parse parameters)."""
    system_prompt: str | None = Field(default=None, max_length=10_000)
    schema_name: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("data_schema")
    @classmethod
    def _check_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_json_schema(value)
        return value


def check_json_schema(schema: Any) -> None:
    """Raise ``ValueError`` unless ``schema`` is a valid JSON Schema object."""
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, dict):
        raise ValueError("must be a JSON Schema object")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from None


def _job_config_kind(value: Any) -> str:
    if isinstance(value, ClassifyJob):
        return "classify"
    if isinstance(value, ExtractJob):
        return "extract"
    if isinstance(value, dict) and "rules" in value:
        return "classify"
    if isinstance(value, dict) and "data_schema" in value:
        return "extract"
    return "parse"


JobConfig = Annotated[
    Annotated[BatchParseJobRecordCreate, Tag("parse")]
    | Annotated[ClassifyJob, Tag("classify")]
    | Annotated[ExtractJob, Tag("extract")],
    Discriminator(_job_config_kind),
]
AnyJobConfig = BatchParseJobRecordCreate | ClassifyJob | ExtractJob


JOB_CONFIG_ADAPTER: TypeAdapter[AnyJobConfig] = TypeAdapter(JobConfig)


def load_job_config(data: str | bytes | dict[str, Any]) -> AnyJobConfig:
    """Validate a stored or submitted job config (JSON text or data)."""
    if isinstance(data, str | bytes):
        return JOB_CONFIG_ADAPTER.validate_json(data)
    return JOB_CONFIG_ADAPTER.validate_python(data)


_CLASSIFY_OUTPUT_FIELDS = {"rules", "mode", "parsing_configuration", "confidence_threshold"}


def engine_config(config: AnyJobConfig) -> dict[str, Any]:
    """The plain JSON config an engine receives (parse ``parameters``, classify rules, …)."""
    if isinstance(config, ClassifyJob):
        return config.model_dump(mode="json", include=_CLASSIFY_OUTPUT_FIELDS, exclude_none=True)
    if isinstance(config, ExtractJob):
        return config.model_dump(mode="json", exclude_none=True)
    parameters = (config.parameters or ParseParameters()).model_dump(mode="json", exclude_none=True)
    if job_type_of(config) == JobType.EXTRACT:
        # The parse-config form of extract: the schema travels as a JSON string.
        return {"parameters": parameters}
    return parameters


def parse_parameters_of(config: AnyJobConfig) -> ParseParameters:
    """The parse parameters a job reads documents with (defaults for classify)."""
    if isinstance(config, ClassifyJob):
        return ParseParameters()
    return config.parameters or ParseParameters()


def job_type_of(config: AnyJobConfig) -> JobType:
    """The job type a config describes: rules classify; a schema (or structured output) extracts."""
    if isinstance(config, ClassifyJob):
        return JobType.CLASSIFY
    if isinstance(config, ExtractJob):
        return JobType.EXTRACT
    parameters = config.parameters
    if (
        parameters is not None
        and parameters.structured_output
        and (parameters.structured_output_json_schema)
    ):
        return JobType.EXTRACT
    return JobType.PARSE


def uses_llm(config: AnyJobConfig) -> bool:
    """Whether a job needs the LLM endpoint: extract jobs and MULTIMODAL classification
    (parse and FAST classification run on local engines)."""
    return job_type_of(config) == JobType.EXTRACT or (
        isinstance(config, ClassifyJob) and config.mode == ClassifyMode.MULTIMODAL
    )


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


_UNION_TAGS = ("parse", "classify", "extract")


def format_validation_error(error: ValidationError) -> str:
    """One readable line per problem, each starting with the dotted field path."""
    lines = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"] if p not in _UNION_TAGS]
        field = ".".join(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{field}: {message}" if field else message)
    return "; ".join(lines)


# ----------------------------------------------------------------- parameters hash

# Fields that never change what a document turns into: delivery, identity, caching,
# time limits, credentials and output locations.
NON_OUTPUT_PARSE_FIELDS = frozenset(
    {
        "webhook_configurations",
        "webhook_url",
        "priority",
        "project_id",
        "pipeline_id",
        "invalidate_cache",
        "do_not_cache",
        "job_timeout_in_seconds",
        "job_timeout_extra_time_per_page_in_seconds",
        "http_proxy",
        "azure_openai_key",
        "gpt4o_api_key",
        "vendor_multimodal_api_key",
        "output_s3_path_prefix",
        "output_s3_region",
        "output_bucket",
        "input_s3_region",
        "resource_info",
    }
)

ENGINE_VERSIONS: dict[JobType, str] = {
    JobType.PARSE: "parse-2",  # 2: PDFs through docbatch's layout engine (layout-1)
    JobType.CLASSIFY: "classify-1",
    JobType.EXTRACT: "extract-1",
}
"""Bumped when an engine's output changes, so earlier results stop counting as done."""


def output_config(config: AnyJobConfig) -> dict[str, Any]:
    """The canonical part of a config that determines the output (input of the hash)."""
    if isinstance(config, ClassifyJob):
        return config.model_dump(mode="json", include=_CLASSIFY_OUTPUT_FIELDS, exclude_none=True)
    if isinstance(config, ExtractJob):
        canonical = config.model_dump(mode="json", exclude={"parameters"}, exclude_none=True)
        parameters = config.parameters or ParseParameters()
        canonical["parameters"] = parameters.model_dump(
            mode="json", exclude=set(NON_OUTPUT_PARSE_FIELDS), exclude_none=True
        )
        return canonical
    parameters = config.parameters or ParseParameters()
    return parameters.model_dump(
        mode="json", exclude=set(NON_OUTPUT_PARSE_FIELDS), exclude_none=True
    )


def parameters_hash(config: AnyJobConfig, *, model: str | None = None) -> str:
    """Stable content hash of the output-relevant config, for dedup across jobs.

    ``model`` names the LLM of jobs that use one: another model's result is not "done".
    """
    job_type = job_type_of(config)
    canonical: dict[str, Any] = {
        "job_type": job_type.value,
        "engine": ENGINE_VERSIONS[job_type],
        "config": output_config(config),
    }
    if model is not None:
        canonical["model"] = model
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def wants_reprocessing(config: AnyJobConfig) -> bool:
    """Whether the config asks to bypass dedup (``invalidate_cache: true``)."""
    if isinstance(config, BatchParseJobRecordCreate | ExtractJob) and config.parameters:
        return bool(config.parameters.invalidate_cache)
    return False


# ------------------------------------------------------------- response models


class _Response(BaseModel):
    """Base of response models."""

    model_config = ConfigDict(from_attributes=True)


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


class JobCounts(_Response):
    """Per-status item counts of a job: the one counter type of the API, the store's
    snapshots and the workflows' messages (docbatch's own summary, not in the reference)."""

    total: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0

    @property
    def terminal(self) -> int:
        """Items that reached a final status."""
        return self.completed + self.failed + self.skipped + self.cancelled

    @property
    def percentage(self) -> float:
        """Share of items in a final status, 0–100."""
        if self.total <= 0:
            return 0.0
        return round(min(100.0, 100.0 * self.terminal / self.total), 2)

    def counts(self) -> JobCounts:
        """Just the counts (of a message that carries more)."""
        return JobCounts(
            total=self.total,
            completed=self.completed,
            failed=self.failed,
            skipped=self.skipped,
            cancelled=self.cancelled,
        )


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


# ------------------------------------------------------------ directories and files

DirectoryType = Literal["user", "ephemeral", "index"]


class DirectoryCreateRequest(_Request):
    """Body of ``POST /api/v1/beta/directories``."""

    name: str = Field(min_length=1, max_length=512)
    description: str | None = None
    system_metadata: dict[str, Any] | None = None
    type: Literal["user", "ephemeral"] | None = None
    connector_subscription_id: str | None = Field(default=None, min_length=1, max_length=128)


class DirectoryUpdateRequest(_Request):
    """Body of ``PATCH /api/v1/beta/directories/{directory_id}``."""

    name: str | None = Field(default=None, min_length=1, max_length=512)
    description: str | None = None


class Directory(_Response):
    """A directory of files (the client's ``Directory`` shape)."""

    id: str
    name: str
    project_id: str
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    expires_at: datetime | None = None
    updated_at: datetime | None = None
    description: str | None = None
    system_metadata: dict[str, Any] | None = None
    type: DirectoryType | None = None
    connector_subscription_id: str | None = None


FileMetadata = dict[str, str | int | float | bool | list[str] | None]


class DirectoryFileAddRequest(_Request):
    """Body of ``POST /api/v1/beta/directories/{directory_id}/files``."""

    file_id: str
    display_name: str | None = None
    metadata: FileMetadata | None = None
    unique_id: str | None = Field(default=None, min_length=1)


class DirectoryFileUpdateRequest(_Request):
    """Body of ``PATCH …/files/{directory_file_id}``."""

    display_name: str | None = None
    metadata: FileMetadata | None = None
    target_directory_id: str | None = None
    unique_id: str | None = Field(default=None, min_length=1)


class DirectoryFile(_Response):
    """A file in a directory (the client's ``DirectoryFile`` shape); its id is the item id."""

    id: str
    directory_id: str
    display_name: str
    project_id: str
    unique_id: str
    created_at: datetime | None = None
    deleted_at: datetime | None = None
    updated_at: datetime | None = None
    file_id: str | None = None
    metadata: FileMetadata | None = None
    # docbatch additions, useful to clients and harmless to the reference client.
    size_bytes: int | None = None
    content_hash: str | None = None
    mime_type: str | None = None

"""The three job configs (parse, classify, extract) and what a job reads from its config.

A config's type follows from its fields (rules classify, a schema extracts), so a stored
or submitted config is validated without a type tag.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter, field_validator

from docbatch.models.base import _Request
from docbatch.models.enums import ClassifyMode, JobType, ParsingLanguage
from docbatch.models.parameters import ParseParameters, check_json_schema


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

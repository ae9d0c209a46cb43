"""A job's plan: everything the workers need to know about a job, decided once.

The job config says what the user asked for; the plan is what docbatch will do about
it, resolved against the settings of the moment the job is created: the job type, the
engine's own config, whether it calls the LLM, the parameters hash that dedup compares,
time limits, paging and priority. It is stored with the job, so a worker never derives
it again (and a worker started with other settings runs the job as it was planned).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from docbatch.models import (
    AnyJobConfig,
    JobType,
    Priority,
    engine_config,
    job_type_of,
    load_job_config,
    parameters_hash,
    parse_parameters_of,
    uses_llm,
    wants_reprocessing,
)
from docbatch.settings import Settings
from docbatch.store.tables import JobRow

MAX_PAGES_FOR_TIMEOUT = 2000
TIMEOUT_MARGIN_SECONDS = 60.0
MAX_ACTIVITY_SECONDS = 24 * 3600.0


class JobPlan(BaseModel):
    """What a job does and within which limits (stored as the job's ``plan_json``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_type: JobType
    uses_llm: bool
    """The engine calls the LLM endpoint (latency outside this machine's control)."""
    engine_config: dict[str, Any]
    """The plain JSON config the engine receives."""
    parameters_hash: str
    """Dedup key of the output-relevant config (and the LLM model, when one is used)."""
    invalidate_cache: bool
    page_size: int
    continue_as_new_threshold: int
    max_file_size_bytes: int
    timeout_seconds: float
    """Base time limit of one document (``job_timeout_in_seconds``)."""
    extra_seconds_per_page: float
    """Added to the limit per page of the document."""
    output_destination: str | None
    """Where outputs go (an ``s3://`` prefix), or ``None`` for the blob directory."""
    priority: Priority | None

    @classmethod
    def build(
        cls,
        config: AnyJobConfig,
        settings: Settings,
        *,
        page_size: int | None = None,
        continue_as_new_threshold: int | None = None,
    ) -> JobPlan:
        """The plan of a new job: the config resolved against the settings."""
        parameters = parse_parameters_of(config)
        llm = uses_llm(config)
        page_size = page_size or settings.default_page_size
        return cls(
            job_type=job_type_of(config),
            uses_llm=llm,
            engine_config=engine_config(config),
            parameters_hash=parameters_hash(config, model=settings.llm_model if llm else None),
            invalidate_cache=wants_reprocessing(config),
            page_size=page_size,
            continue_as_new_threshold=continue_as_new_threshold or page_size,
            max_file_size_bytes=settings.max_file_size_bytes,
            timeout_seconds=(
                parameters.job_timeout_in_seconds or settings.default_job_timeout_seconds
            ),
            extra_seconds_per_page=parameters.job_timeout_extra_time_per_page_in_seconds or 0.0,
            output_destination=parameters.output_s3_path_prefix or settings.output_s3_prefix,
            priority=parameters.priority,
        )

    @classmethod
    def of_job(cls, job: JobRow, settings: Settings) -> JobPlan:
        """A stored job's plan; a job created before plans were stored gets one built from
        its config and the current settings, keeping the hash and paging it was given."""
        if job.plan_json is not None:
            return cls.model_validate_json(job.plan_json)
        built = cls.build(
            load_job_config(job.config_json),
            settings,
            page_size=job.page_size,
            continue_as_new_threshold=job.continue_as_new_threshold,
        )
        return built.model_copy(update={"parameters_hash": job.parameters_hash})

    @property
    def attempt_timeout_seconds(self) -> float:
        """Temporal's per-attempt bound of the processing activity: the activity enforces
        the exact per-document limit (base + extra per page) itself, so this only has to
        be above it."""
        bound = (
            self.timeout_seconds
            + self.extra_seconds_per_page * MAX_PAGES_FOR_TIMEOUT
            + TIMEOUT_MARGIN_SECONDS
        )
        return min(bound, MAX_ACTIVITY_SECONDS)

    def time_limit(self, pages: int) -> float:
        """The reference's limit of one document: the base plus extra time per page."""
        return self.timeout_seconds + self.extra_seconds_per_page * pages

    def row_fields(self) -> dict[str, Any]:
        """The job row's columns the plan decides (queries filter on some of them)."""
        return {
            "job_type": self.job_type.value,
            "parameters_hash": self.parameters_hash,
            "invalidate_cache": self.invalidate_cache,
            "page_size": self.page_size,
            "continue_as_new_threshold": self.continue_as_new_threshold,
            "max_file_size_bytes": self.max_file_size_bytes,
            "plan_json": self.model_dump_json(),
        }

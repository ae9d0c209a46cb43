"""The parameters hash: which part of a job config determines its output, for dedup."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from docbatch.models.enums import JobType
from docbatch.models.jobs import (
    _CLASSIFY_OUTPUT_FIELDS,
    AnyJobConfig,
    BatchParseJobRecordCreate,
    ClassifyJob,
    ExtractJob,
    job_type_of,
)
from docbatch.models.parameters import ParseParameters

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

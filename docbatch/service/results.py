"""An item's processing results, each with the config that produced it, secrets
redacted."""

from __future__ import annotations

import json
from typing import Any

from docbatch.errors import NotFoundError
from docbatch.models import JobItemGetProcessingResultsResponse, JobType, ProcessingResult
from docbatch.store import Store
from docbatch.store.tables import ProcessingResultRow

_SECRET_KEYS = frozenset(
    {
        "azure_openai_key",
        "gpt4o_api_key",
        "vendor_multimodal_api_key",
        "webhook_signing_secret",
    }
)
_SECRET_MAPS = frozenset({"webhook_headers"})
REDACTED = "***"


def redact(value: Any) -> Any:
    """A copy of a config with API keys, signing secrets and header values replaced."""
    if isinstance(value, dict):
        redacted: dict[str, Any] = {}
        for key, item in value.items():
            if key in _SECRET_KEYS and item:
                redacted[key] = REDACTED
            elif key in _SECRET_MAPS and isinstance(item, dict):
                redacted[key] = dict.fromkeys(item, REDACTED)
            else:
                redacted[key] = redact(item)
        return redacted
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


async def get_results(
    store: Store,
    item_id: str,
    *,
    job_type: JobType | None = None,
    project_id: str | None = None,
) -> JobItemGetProcessingResultsResponse:
    """Every processing result of an item, with the (redacted) config that produced it."""
    file = await store.directories.get_file(item_id)
    if project_id is not None and file.project_id != project_id:
        raise NotFoundError(f"item {item_id} not found")
    rows = await store.items.results_for_item(item_id, job_type=job_type)
    configs: dict[str, dict[str, Any]] = {}
    results = []
    for row in rows:
        if row.job_id not in configs:
            try:
                job = await store.jobs.get_job(row.job_id)
                configs[row.job_id] = redact(json.loads(job.config_json))
            except NotFoundError:
                configs[row.job_id] = {}
        results.append(_result_model(row, configs[row.job_id]))
    return JobItemGetProcessingResultsResponse(
        item_id=item_id, item_name=file.path, processing_results=results
    )


def _result_model(row: ProcessingResultRow, config: dict[str, Any]) -> ProcessingResult:
    return ProcessingResult(
        item_id=row.item_id,
        job_config=config,
        job_type=JobType(row.job_type),
        output_s3_path=row.output_location,
        parameters_hash=row.parameters_hash,
        processed_at=row.processed_at,
        result_id=row.result_id,
        output_metadata=json.loads(row.output_metadata_json or "{}"),
    )

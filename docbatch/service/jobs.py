"""Creating jobs: a job's row and items inserted (idempotently) and its parent workflow
started, or nothing left behind; a retry is a new job over a job's failed items."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.exc import IntegrityError
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from docbatch.core.plan import JobPlan
from docbatch.errors import ConfigError, ConflictError, DocbatchError, NotFoundError
from docbatch.ids import JOB_PREFIX, new_id, parent_workflow_id
from docbatch.messages import BatchParentInput
from docbatch.models import (
    AnyJobConfig,
    BatchCreateRequest,
    ItemStatus,
    JobStatus,
    JobType,
)
from docbatch.settings import Settings
from docbatch.store import Store, utcnow
from docbatch.store.tables import IdempotencyKeyRow, JobRow
from docbatch.temporal import DIRECTORY_ID, JOB_ID, JOB_STATUS, JOB_TYPE, temporal_priority
from docbatch.webhooks import validate_targets
from workflows.batch_parent import BatchParentWorkflow


class TemporalUnavailableError(DocbatchError):
    """Temporal could not be reached; nothing was left half-created."""


def new_job_row(
    plan: JobPlan,
    config: AnyJobConfig,
    *,
    project_id: str,
    namespace: str,
    directory_id: str | None = None,
    total_items: int = 0,
    job_prefix: str = JOB_PREFIX,
    retry_of: str | None = None,
    batch_config_json: str | None = None,
) -> JobRow:
    """A new job's row (``pending``, no item counted yet), not yet inserted: its columns
    from the plan, its id and its parent workflow's id."""
    now = utcnow()
    job_id = new_id(job_prefix)
    return JobRow(
        id=job_id,
        project_id=project_id,
        status=JobStatus.PENDING.value,
        directory_id=directory_id,
        config_json=config.model_dump_json(by_alias=True, exclude_none=True),
        **plan.row_fields(),
        total_items=total_items,
        completed_items=0,
        failed_items=0,
        skipped_items=0,
        cancelled_items=0,
        workflow_id=parent_workflow_id(job_id),
        temporal_namespace=namespace,
        retry_of=retry_of,
        batch_config_json=batch_config_json,
        created_at=now,
        updated_at=now,
    )


async def create_job(
    store: Store,
    client: Client,
    settings: Settings,
    request: BatchCreateRequest,
    *,
    project_id: str,
    idempotency_key: str | None = None,
    retry_of: str | None = None,
    job_prefix: str = JOB_PREFIX,
    batch_config_json: str | None = None,
) -> JobRow:
    """Validate references, insert the job (``pending``) and start its parent workflow.

    A v2 batch passes its id prefix (``bat``) and its v2 ``config`` to show it with.

    If the workflow cannot be started the job row is removed again, so a failed create
    leaves nothing half-created. With ``idempotency_key``, the same key and body return
    the job created first; the same key with another body is a ``ConflictError``.
    """
    request_hash = hashlib.sha256(
        request.model_dump_json(by_alias=True, exclude_none=True).encode()
    ).hexdigest()
    if idempotency_key is not None:
        earlier = await _idempotent_job(store, project_id, idempotency_key, request_hash)
        if earlier is not None:
            return earlier
    config = request.job_config
    plan = JobPlan.build(
        config,
        settings,
        page_size=request.page_size,
        continue_as_new_threshold=request.continue_as_new_threshold,
    )
    _check_engine_available(plan, settings)
    validate_targets(config, settings)
    items = []
    if request.directory_id is not None:
        try:
            await store.directories.get_directory(request.directory_id, project_id=project_id)
        except NotFoundError:
            raise ConfigError(
                f"directory {request.directory_id} not found", field="directory_id"
            ) from None
        if not await store.directories.count_files(request.directory_id):
            raise ConfigError(
                f"directory {request.directory_id} has no files to process", field="directory_id"
            )
    else:
        wanted = list(dict.fromkeys(request.item_ids or []))
        items = await store.directories.get_files(wanted, project_id=project_id)
        by_id = {f.id: f for f in items}
        unknown = [item_id for item_id in wanted if item_id not in by_id]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise ConfigError(f"unknown item ids ({len(unknown)}): {shown}", field="item_ids")
        items = [by_id[item_id] for item_id in wanted]

    job = new_job_row(
        plan,
        config,
        project_id=project_id,
        namespace=client.namespace,
        directory_id=request.directory_id,
        total_items=len(items),
        job_prefix=job_prefix,
        retry_of=retry_of,
        batch_config_json=batch_config_json,
    )
    idempotency = None
    if idempotency_key is not None:
        idempotency = IdempotencyKeyRow(
            project_id=project_id,
            key=idempotency_key,
            request_hash=request_hash,
            job_id=job.id,
            created_at=job.created_at,
        )
    try:
        await store.jobs.create_job(job, items, idempotency=idempotency)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent create with the same key won: answer as it did.
        earlier = await _idempotent_job(store, project_id, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier
    attributes = [
        SearchAttributePair(JOB_ID, job.id),
        SearchAttributePair(JOB_TYPE, plan.job_type.value),
    ]
    attributes.append(SearchAttributePair(JOB_STATUS, JobStatus.PENDING.value))
    if request.directory_id is not None:
        attributes.append(SearchAttributePair(DIRECTORY_ID, request.directory_id))
    try:
        await client.start_workflow(
            BatchParentWorkflow.run,
            BatchParentInput(job_id=job.id),
            id=job.workflow_id,
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes(attributes),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=_summary_of(plan.job_type, request, len(items)),
            # Children and their activities inherit it: when workers are saturated,
            # Temporal's task queues hand out the work of urgent jobs first.
            priority=temporal_priority(plan.priority),
        )
    except RPCError as exc:
        await store.jobs.delete_job(job.id)
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ConfigError(
                f"Temporal namespace {client.namespace!r} not found", field="temporal-namespace"
            ) from exc
        raise TemporalUnavailableError(f"could not start the batch workflow: {exc}") from exc
    return job


def _summary_of(job_type: JobType, request: BatchCreateRequest, items: int) -> str:
    """The parent workflow's one-line summary in the Web UI."""
    if request.directory_id is not None:
        return f"{job_type.value} batch over directory {request.directory_id}"
    return f"{job_type.value} batch of {items} items"


async def _idempotent_job(
    store: Store, project_id: str, key: str, request_hash: str
) -> JobRow | None:
    recorded = await store.jobs.find_idempotency_key(project_id, key)
    if recorded is None:
        return None
    if recorded.request_hash != request_hash:
        raise ConflictError(
            f"Idempotency-Key {key!r} was already used with a different request body"
        )
    return await store.jobs.get_job(recorded.job_id)


async def retry_failed_items(
    store: Store,
    client: Client,
    settings: Settings,
    job_id: str,
    *,
    project_id: str,
    idempotency_key: str | None = None,
) -> JobRow:
    """Start a new job, linked to ``job_id``, over that job's failed items only."""
    job = await store.jobs.get_job(job_id, project_id=project_id)
    if not JobStatus(job.status).is_terminal:
        raise ConflictError(f"job {job_id} is still {job.status}: retry once it has ended")
    failed = await store.items.item_ids_with_status(job_id, ItemStatus.FAILED)
    if not failed:
        raise ConflictError(f"job {job_id} has no failed items to retry")
    live = {f.id for f in await store.directories.get_files(failed, project_id=project_id)}
    failed = [item_id for item_id in failed if item_id in live]
    if not failed:
        raise ConflictError(f"the failed items of job {job_id} no longer exist")
    request = BatchCreateRequest.model_validate(
        {
            "job_config": json.loads(job.config_json),
            "item_ids": failed,
            "page_size": job.page_size,
            "continue_as_new_threshold": job.continue_as_new_threshold,
        }
    )
    return await create_job(
        store,
        client,
        settings,
        request,
        project_id=project_id,
        idempotency_key=idempotency_key,
        retry_of=job_id,
    )


def _check_engine_available(plan: JobPlan, settings: Settings) -> None:
    if plan.uses_llm and settings.llm_options is None:
        what = "extract jobs" if plan.job_type == JobType.EXTRACT else "MULTIMODAL classification"
        raise ConfigError(
            f"{what} need an LLM endpoint: set DOCBATCH_LLM_BASE_URL (and "
            "DOCBATCH_LLM_API_KEY, DOCBATCH_LLM_MODEL) on the API and the workers",
            field="job_config",
        )

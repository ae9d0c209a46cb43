"""Use cases shared by ``starter.py`` and the HTTP API: no logic lives twice.

Each function takes its dependencies (store, Temporal client, settings) explicitly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from docbatch.blobs import path_to_location
from docbatch.errors import (
    ConfigError,
    ConflictError,
    DocbatchError,
    JobTerminalError,
    NotFoundError,
)
from docbatch.ids import JOB_PREFIX, new_id, parent_workflow_id
from docbatch.messages import BatchParentInput, CancelRequest
from docbatch.models import (
    AnyJobConfig,
    BatchCancelResponse,
    BatchCreateRequest,
    BatchGetStatusResponse,
    BatchJob,
    BatchPauseResponse,
    ItemStatus,
    JobItem,
    JobItemGetProcessingResultsResponse,
    JobStatus,
    JobType,
    ProcessingResult,
    job_type_of,
    parameters_hash,
    parse_parameters_of,
    uses_llm,
    wants_reprocessing,
)
from docbatch.settings import Settings
from docbatch.store import FileSpec, Store
from docbatch.store.repository import SyncStats, utcnow
from docbatch.store.tables import (
    DirectoryRow,
    IdempotencyKeyRow,
    JobRow,
    ProcessingResultRow,
)
from docbatch.temporal import DIRECTORY_ID, JOB_ID, JOB_STATUS, JOB_TYPE, temporal_priority
from docbatch.views import is_paused, item_model, job_counts, job_model
from docbatch.webhooks import validate_targets
from workflows.batch_parent import BatchParentWorkflow

_HASH_CHUNK = 1024 * 1024


class TemporalUnavailableError(DocbatchError):
    """Temporal could not be reached; nothing was left half-created."""


# ------------------------------------------------------------------ directories


@dataclass(frozen=True, slots=True)
class RegisteredFolder:
    """A local folder registered as a directory, and what the sync changed."""

    directory: DirectoryRow
    stats: SyncStats
    files: int


async def register_local_folder(store: Store, folder: Path, *, project_id: str) -> RegisteredFolder:
    """Register a local folder (recursively) as a directory, reusing it on later runs.

    Files are referenced in place, not copied. A file whose size and modification time
    are unchanged keeps its content hash; others are hashed again, so new and changed
    files are picked up by content. Hidden files and folders are ignored.
    """
    root = await asyncio.to_thread(lambda: folder.expanduser().resolve())
    if not await asyncio.to_thread(root.is_dir):
        raise ConfigError(f"not a directory: {folder}", field="path")
    directory = await store.get_or_create_directory(
        project_id=project_id, name=root.name or str(root), source_path=str(root)
    )
    known = await store.file_fingerprints(directory.id)
    specs = await asyncio.to_thread(_scan_folder, root, known)
    stats = await store.sync_files(
        directory_id=directory.id, project_id=project_id, files=specs, remove_missing=True
    )
    return RegisteredFolder(directory=directory, stats=stats, files=len(specs))


def _scan_folder(root: Path, known: dict[str, tuple[int, int | None, str]]) -> list[FileSpec]:
    specs: list[FileSpec] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            relative = path.relative_to(root).as_posix()
            previous = known.get(relative)
            if (
                previous is not None
                and previous[0] == stat.st_size
                and previous[1] == stat.st_mtime_ns
            ):
                content_hash = previous[2]
            else:
                content_hash = _sha256(path)
            specs.append(
                FileSpec(
                    path=relative,
                    size=stat.st_size,
                    content_hash=content_hash,
                    storage_location=path_to_location(path),
                    mime_type=mimetypes.guess_type(name)[0],
                    mtime_ns=stat.st_mtime_ns,
                )
            )
    return specs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------- jobs


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
    job_type = job_type_of(config)
    _check_engine_available(config, job_type, settings)
    validate_targets(config, settings)
    items = []
    if request.directory_id is not None:
        try:
            await store.get_directory(request.directory_id, project_id=project_id)
        except NotFoundError:
            raise ConfigError(
                f"directory {request.directory_id} not found", field="directory_id"
            ) from None
        if not await store.count_files(request.directory_id):
            raise ConfigError(
                f"directory {request.directory_id} has no files to process", field="directory_id"
            )
    else:
        wanted = list(dict.fromkeys(request.item_ids or []))
        items = await store.get_files(wanted, project_id=project_id)
        by_id = {f.id: f for f in items}
        unknown = [item_id for item_id in wanted if item_id not in by_id]
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise ConfigError(f"unknown item ids ({len(unknown)}): {shown}", field="item_ids")
        items = [by_id[item_id] for item_id in wanted]

    page_size = request.page_size or settings.default_page_size
    now = utcnow()
    job_id = new_id(job_prefix)
    job = JobRow(
        id=job_id,
        project_id=project_id,
        job_type=job_type.value,
        status=JobStatus.PENDING.value,
        directory_id=request.directory_id,
        config_json=config.model_dump_json(by_alias=True, exclude_none=True),
        parameters_hash=parameters_hash(
            config, model=settings.llm_model if uses_llm(config) else None
        ),
        invalidate_cache=wants_reprocessing(config),
        page_size=page_size,
        continue_as_new_threshold=request.continue_as_new_threshold or page_size,
        max_file_size_bytes=settings.max_file_size_bytes,
        total_items=len(items),
        completed_items=0,
        failed_items=0,
        skipped_items=0,
        cancelled_items=0,
        workflow_id=parent_workflow_id(job_id),
        temporal_namespace=client.namespace,
        retry_of=retry_of,
        batch_config_json=batch_config_json,
        created_at=now,
        updated_at=now,
    )
    idempotency = None
    if idempotency_key is not None:
        idempotency = IdempotencyKeyRow(
            project_id=project_id,
            key=idempotency_key,
            request_hash=request_hash,
            job_id=job_id,
            created_at=now,
        )
    try:
        await store.create_job(job, items, idempotency=idempotency)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # A concurrent create with the same key won: answer as it did.
        earlier = await _idempotent_job(store, project_id, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier
    attributes = [
        SearchAttributePair(JOB_ID, job_id),
        SearchAttributePair(JOB_TYPE, job_type.value),
    ]
    attributes.append(SearchAttributePair(JOB_STATUS, JobStatus.PENDING.value))
    if request.directory_id is not None:
        attributes.append(SearchAttributePair(DIRECTORY_ID, request.directory_id))
    try:
        await client.start_workflow(
            BatchParentWorkflow.run,
            BatchParentInput(job_id=job_id),
            id=job.workflow_id,
            task_queue=settings.task_queue,
            search_attributes=TypedSearchAttributes(attributes),
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=_summary_of(job_type, request, len(items)),
            # Children and their activities inherit it: when workers are saturated,
            # Temporal's task queues hand out the work of urgent jobs first.
            priority=temporal_priority(parse_parameters_of(config).priority),
        )
    except RPCError as exc:
        await store.delete_job(job_id)
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
    recorded = await store.find_idempotency_key(project_id, key)
    if recorded is None:
        return None
    if recorded.request_hash != request_hash:
        raise ConflictError(
            f"Idempotency-Key {key!r} was already used with a different request body"
        )
    return await store.get_job(recorded.job_id)


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
    job = await store.get_job(job_id, project_id=project_id)
    if not JobStatus(job.status).is_terminal:
        raise ConflictError(f"job {job_id} is still {job.status}: retry once it has ended")
    failed = await store.item_ids_with_status(job_id, ItemStatus.FAILED)
    if not failed:
        raise ConflictError(f"job {job_id} has no failed items to retry")
    live = {f.id for f in await store.get_files(failed, project_id=project_id)}
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


def _check_engine_available(config: AnyJobConfig, job_type: JobType, settings: Settings) -> None:
    if uses_llm(config) and settings.llm_options is None:
        what = "extract jobs" if job_type == JobType.EXTRACT else "MULTIMODAL classification"
        raise ConfigError(
            f"{what} need an LLM endpoint: set DOCBATCH_LLM_BASE_URL (and "
            "DOCBATCH_LLM_API_KEY, DOCBATCH_LLM_MODEL) on the API and the workers",
            field="job_config",
        )


async def get_status(
    store: Store, job_id: str, *, project_id: str | None = None, throughput: bool = True
) -> BatchGetStatusResponse:
    """A job with its progress percentage (read from the store: no worker needed).

    With ``throughput`` (one more query while the job runs) it also has the job's
    throughput and ETA (see :func:`job_throughput`).
    """
    job = await store.get_job(job_id, project_id=project_id)
    rate = await job_throughput(store, job) if throughput else Throughput(None, None)
    return BatchGetStatusResponse(
        job=job_model(job),
        progress_percentage=job_counts(job).percentage,
        throughput_items_per_second=rate.items_per_second,
        eta_seconds=rate.eta_seconds,
    )


THROUGHPUT_WINDOW = timedelta(seconds=60)
"""How far back a running job's throughput looks (recent, so an ETA follows changes)."""


@dataclass(frozen=True, slots=True)
class Throughput:
    """Items processed per second and the seconds left; None where unknown."""

    items_per_second: float | None
    eta_seconds: float | None


async def job_throughput(store: Store, job: JobRow, *, now: datetime | None = None) -> Throughput:
    """A job's processing rate and ETA, from the store.

    The rate counts items processed (completed or failed; skipped items cost nothing and
    would inflate it). A running job's rate is over the last ``THROUGHPUT_WINDOW`` (or
    since it started, if later), read from its items' end times; when none ended in the
    window, over the whole run. ETA = items not ended ÷ rate. An ended job has the rate
    of its whole run and an ETA of 0; a job not started yet, or with nothing processed,
    has neither.
    """
    counts = job_counts(job)
    processed = counts.completed + counts.failed
    if job.started_at is None:
        return Throughput(None, None)
    if JobStatus(job.status).is_terminal:
        elapsed = ((job.completed_at or job.updated_at) - job.started_at).total_seconds()
        rate = processed / elapsed if processed and elapsed > 0 else None
        return Throughput(_rounded(rate), 0.0)
    now = now or utcnow()
    since = max(job.started_at, now - THROUGHPUT_WINDOW)
    recent = await store.count_items_processed_since(job.id, since)
    window = (now - since).total_seconds()
    whole_run = (now - job.started_at).total_seconds()
    rate = None
    if recent and window > 0:
        rate = recent / window
    elif processed and whole_run > 0:
        rate = processed / whole_run
    if not rate:
        return Throughput(None, None)
    remaining = max(0, counts.total - counts.terminal)
    return Throughput(_rounded(rate), round(remaining / rate, 1))


def _rounded(rate: float | None) -> float | None:
    # Four significant digits: a slow job's rate (one 30-minute scan) must not read 0.
    return None if rate is None else float(f"{rate:.4g}")


async def cancel_job(
    store: Store,
    client: Client,
    job_id: str,
    *,
    reason: str | None = None,
    project_id: str | None = None,
    wait_seconds: float = 30.0,
) -> BatchCancelResponse:
    """Cancel a running job through the parent's Update; wait until every item ended.

    If no worker answers within ``wait_seconds`` the cancellation is still recorded (as
    a signal, durable in Temporal) and the answer says it is pending.
    """
    job = await store.get_job(job_id, project_id=project_id)
    if JobStatus(job.status).is_terminal:
        raise JobTerminalError(f"job {job_id} already {job.status}")
    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    request = CancelRequest(reason=reason)
    try:
        result = await asyncio.wait_for(
            handle.execute_update(BatchParentWorkflow.cancel_job, request), wait_seconds
        )
    except TimeoutError:
        await handle.signal(BatchParentWorkflow.cancel, request)
        job = await store.get_job(job_id)
        return BatchCancelResponse(
            job_id=job_id,
            message="cancellation requested; it completes when a worker picks the job up",
            processed_items=job.completed_items + job.failed_items,
            status=JobStatus(job.status),
        )
    except WorkflowUpdateFailedError as exc:
        job = await store.get_job(job_id)
        raise JobTerminalError(f"job {job_id} already {job.status}") from exc
    except RPCError as exc:
        # The Update is answered by a workflow task; if that task fails (say, a child
        # ended while the workflow was completing) the caller gets an error although the
        # cancellation may have landed. The signal is durable and idempotent: send it,
        # then answer from the store.
        try:
            await handle.signal(BatchParentWorkflow.cancel, request)
        except RPCError:
            job = await store.get_job(job_id)
            if not JobStatus(job.status).is_terminal:
                raise TemporalUnavailableError(f"could not cancel job {job_id}: {exc}") from exc
        job = await _until_terminal(store, job_id, wait_seconds)
        if job.status != JobStatus.CANCELLED.value and JobStatus(job.status).is_terminal:
            raise JobTerminalError(f"job {job_id} already {job.status}") from exc
        return BatchCancelResponse(
            job_id=job_id,
            message=f"job cancelled{f': {reason}' if reason else ''}"
            if job.status == JobStatus.CANCELLED.value
            else "cancellation requested; it completes when a worker picks the job up",
            processed_items=job.completed_items + job.failed_items,
            status=JobStatus(job.status),
        )
    return BatchCancelResponse(
        job_id=job_id,
        message=f"job cancelled{f': {reason}' if reason else ''}",
        processed_items=result.processed_items,
        status=result.status,
    )


async def set_paused(
    store: Store,
    client: Client,
    job_id: str,
    paused: bool,
    *,
    project_id: str | None = None,
    wait_seconds: float = 30.0,
) -> BatchPauseResponse:
    """Pause a job (nothing new is dispatched, items in flight finish) or resume it.

    Through the parent's Update; a signal if no worker answers in time. Both are
    idempotent. The Update answers once the store shows the change; the
    signal is durable in Temporal and lands when a worker picks the job up.
    """
    job = await store.get_job(job_id, project_id=project_id)
    verb = "pause" if paused else "resume"
    if JobStatus(job.status).is_terminal:
        raise JobTerminalError(f"job {job_id} already {job.status}: nothing to {verb}")
    handle = client.get_workflow_handle_for(BatchParentWorkflow.run, job.workflow_id)
    update = BatchParentWorkflow.pause_job if paused else BatchParentWorkflow.resume_job
    signal = BatchParentWorkflow.pause if paused else BatchParentWorkflow.resume
    pending = False
    try:
        await asyncio.wait_for(handle.execute_update(update), wait_seconds)
    except WorkflowUpdateFailedError as exc:
        raise JobTerminalError(f"job {job_id} cannot {verb}: {exc.cause or exc}") from exc
    except (TimeoutError, RPCError) as exc:
        try:
            await handle.signal(signal)
        except RPCError:
            job = await store.get_job(job_id)
            if JobStatus(job.status).is_terminal:
                raise JobTerminalError(f"job {job_id} already {job.status}") from exc
            raise TemporalUnavailableError(f"could not {verb} job {job_id}: {exc}") from exc
        pending = True
    job = await store.get_job(job_id)
    if pending and is_paused(job) != paused:
        message = f"{verb} requested; it takes effect when a worker picks the job up"
    elif JobStatus(job.status).is_terminal:
        message = f"job already {job.status}"
    else:
        message = (
            "job paused: in-flight items finish, nothing new starts" if paused else ("job resumed")
        )
    return BatchPauseResponse(
        job_id=job_id, message=message, paused=is_paused(job), status=JobStatus(job.status)
    )


async def _until_terminal(store: Store, job_id: str, wait_seconds: float) -> JobRow:
    """The job once it ended, or as it is after ``wait_seconds``."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        job = await store.get_job(job_id)
        if JobStatus(job.status).is_terminal or asyncio.get_running_loop().time() > deadline:
            return job
        await asyncio.sleep(0.2)


async def list_jobs(
    store: Store,
    *,
    project_id: str | None = None,
    status: JobStatus | None = None,
    job_type: JobType | None = None,
    directory_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[BatchJob], int]:
    """Jobs, newest first, and the total matching count."""
    rows, total = await store.list_jobs(
        project_id=project_id,
        status=status,
        job_type=job_type,
        directory_id=directory_id,
        limit=limit,
        offset=offset,
    )
    return [job_model(row) for row in rows], total


async def list_items(
    store: Store,
    job_id: str,
    *,
    status: ItemStatus | None = None,
    limit: int = 100,
    offset: int = 0,
    project_id: str | None = None,
) -> tuple[list[JobItem], int]:
    """A job's items in listing order, and the total matching count."""
    await store.get_job(job_id, project_id=project_id)
    rows, total = await store.list_items(job_id, status=status, limit=limit, offset=offset)
    return [item_model(row) for row in rows], total


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
    file = await store.get_file(item_id)
    if project_id is not None and file.project_id != project_id:
        raise NotFoundError(f"item {item_id} not found")
    rows = await store.results_for_item(item_id, job_type=job_type)
    configs: dict[str, dict[str, Any]] = {}
    results = []
    for row in rows:
        if row.job_id not in configs:
            try:
                job = await store.get_job(row.job_id)
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

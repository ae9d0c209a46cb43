"""Activities of the item workflow: run the engine, store the output, record the result."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from docbatch.blobs import BlobStore
from docbatch.engines.base import Engine, EngineRequest
from docbatch.engines.pool import EnginePool
from docbatch.errors import ConfigError, DocumentError, NotFoundError
from docbatch.ids import result_id_for
from docbatch.messages import ItemFailureInput, ItemInput, ItemOutcome
from docbatch.models import (
    ItemStatus,
    JobType,
    engine_config,
    load_job_config,
)
from docbatch.store import ResultSpec, Store

DOCUMENT_ERROR_TYPE = "DocumentError"
"""``ApplicationError.type`` of a document that cannot be processed (never retried)."""


@dataclass(frozen=True, slots=True)
class _JobContext:
    job_type: JobType
    parameters_hash: str
    config: dict[str, Any]


class ItemActivities:
    """Processing of one item, with the store, blob storage and engine pool injected."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        pool: EnginePool,
        engine: Engine,
        *,
        job_cache_size: int = 256,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._pool = pool
        self._engine = engine
        self._jobs: OrderedDict[str, _JobContext] = OrderedDict()
        self._job_cache_size = job_cache_size

    async def _job(self, job_id: str) -> _JobContext:
        # Job configs never change once created, so each worker reads one once.
        context = self._jobs.get(job_id)
        if context is None:
            job = await self._store.get_job(job_id)
            config = load_job_config(job.config_json)
            context = _JobContext(
                job_type=JobType(job.job_type),
                parameters_hash=job.parameters_hash,
                config=engine_config(config),
            )
            self._jobs[job_id] = context
            while len(self._jobs) > self._job_cache_size:
                self._jobs.popitem(last=False)
        self._jobs.move_to_end(job_id)
        return context

    @activity.defn
    async def process_item(self, request: ItemInput) -> ItemOutcome:
        """Run the job's engine on the item's file, store the output, record the result.

        A document that cannot be processed is recorded as failed and raised as a
        non-retryable ``DocumentError``; anything else is raised and retried.
        """
        status = await self._store.mark_item_processing(request.job_id, request.item_id)
        if status.is_terminal:
            # A retry after the result was recorded, or the job was cancelled meanwhile.
            return ItemOutcome(item_id=request.item_id, status=status)
        job = await self._job(request.job_id)
        try:
            file = await self._store.get_file(request.item_id)
            path = self._blobs.local_path(file.storage_location)
            if not path.is_file():
                raise DocumentError(f"file not found: {file.path} is no longer at {path}")
            result = await self._pool.run(
                self._engine,
                EngineRequest(
                    path=str(path),
                    file_name=file.path,
                    job_type=job.job_type.value,
                    config=job.config,
                    mime_type=file.mime_type,
                ),
                heartbeat=activity.heartbeat,
            )
        except (DocumentError, ConfigError, NotFoundError) as exc:
            message = str(exc)
            await self._store.fail_item(request.job_id, request.item_id, message)
            raise ApplicationError(message, type=DOCUMENT_ERROR_TYPE, non_retryable=True) from exc

        result_id = result_id_for(request.job_id, request.item_id)
        location = await self._blobs.put_text(
            f"results/{request.job_id}/{request.item_id}.{result.extension}", result.content
        )
        metadata = {
            **result.metadata,
            "content_type": result.content_type,
            "file_name": file.path,
            "size_bytes": file.size,
        }
        await self._store.complete_item(
            request.job_id,
            request.item_id,
            ResultSpec(
                result_id=result_id,
                job_type=job.job_type,
                parameters_hash=job.parameters_hash,
                content_hash=file.content_hash,
                output_location=location,
                output_metadata=json.loads(json.dumps(metadata, default=str)),
            ),
        )
        final = await self._store.get_item(request.job_id, request.item_id)
        return ItemOutcome(item_id=request.item_id, status=ItemStatus(final.status))

    @activity.defn
    async def record_item_failure(self, request: ItemFailureInput) -> ItemOutcome:
        """Mark an item failed after its processing gave up (retries exhausted, timeout)."""
        await self._store.fail_item(request.job_id, request.item_id, request.error_message)
        final = await self._store.get_item(request.job_id, request.item_id)
        return ItemOutcome(
            item_id=request.item_id,
            status=ItemStatus(final.status),
            error_message=final.error_message,
        )

    @activity.defn
    async def record_item_cancelled(self, request: ItemInput) -> ItemOutcome:
        """Mark an item cancelled unless it already ended (finished outputs are kept)."""
        await self._store.cancel_item(request.job_id, request.item_id)
        final = await self._store.get_item(request.job_id, request.item_id)
        return ItemOutcome(item_id=request.item_id, status=ItemStatus(final.status))

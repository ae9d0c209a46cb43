"""Activities of the item workflow: run the engine, store the output, record the result."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from docbatch import metrics
from docbatch.blobs import BlobStore
from docbatch.engines.base import Engine, EngineRequest, EngineResult, read_progress
from docbatch.engines.parse import count_pages
from docbatch.engines.pool import EnginePool, EngineTimeoutError, Reservation
from docbatch.errors import ConfigError, DocumentError, NotFoundError
from docbatch.ids import result_id_for
from docbatch.messages import ItemFailureInput, ItemInput, ItemOutcome
from docbatch.models import (
    ItemStatus,
    JobType,
    engine_config,
    load_job_config,
    parse_parameters_of,
    uses_llm,
)
from docbatch.settings import Settings
from docbatch.store import ResultSpec, Store
from docbatch.store.batching import GroupCommit
from docbatch.store.repository import ItemKey
from docbatch.store.tables import FileRow

DOCUMENT_ERROR_TYPE = "DocumentError"
"""``ApplicationError.type`` of a document that cannot be processed (never retried)."""
HEARTBEAT_EVERY_SECONDS = 2.0
QUICK_MAX_WAIT_SECONDS = 0.25
"""The quick path is taken only when an engine process should be free within this."""
QUICK_MAX_SLOT_WAIT_SECONDS = 2.0
"""A quick attempt whose document still waits for a process after this hands it over."""
QUICK_ENGINE_SECONDS = 3.0
"""Engine time the quick path allows a document: with the wait, well below the workflow
task's 10 s timeout, so a quick attempt never needs a workflow task heartbeat."""
HANDOVER_GRACE_SECONDS = 300.0
"""How long a finished engine run handed over by a quick attempt waits to be adopted."""
QUICK_MAX_BYTES = 2 * 1024 * 1024
"""Larger files go straight to the durable path."""

STORE_RETRY_INITIAL_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 10.0

_T = TypeVar("_T")


async def _patiently(call: Callable[[], Awaitable[_T]]) -> _T:
    """A store call, retried within the attempt while the database is unavailable.

    An outage is not the document's fault: it must not spend the attempts the engine's
    retry policy allows a document (the attempt heartbeats meanwhile, and a cancel
    still reaches it).
    """
    delay = STORE_RETRY_INITIAL_SECONDS
    while True:
        try:
            return await call()
        except (OperationalError, InterfaceError) as exc:
            activity.logger.warning("store unavailable, retrying in %.1f s: %s", delay, exc.orig)
            await asyncio.sleep(delay)
            delay = min(2 * delay, STORE_RETRY_MAX_SECONDS)


_Started = tuple[ItemStatus, FileRow | None]
_Completion = tuple[str, str, ResultSpec]


@dataclass(frozen=True, slots=True)
class _JobContext:
    job_type: JobType
    parameters_hash: str
    config: dict[str, Any]
    timeout_seconds: float
    extra_seconds_per_page: float
    output_destination: str | None
    local_engine: bool
    """The engine works on this machine alone (no LLM call whose latency we don't know)."""


def _suits_quick_path(job: _JobContext, file: FileRow) -> bool:
    """Whether the document is likely done within the quick path's budget.

    A document stopped at the budget costs its engine process a restart, so the likely
    slow ones (large files, images that need OCR, LLM calls) skip straight to the
    durable path.
    """
    return (
        job.local_engine
        and file.size <= QUICK_MAX_BYTES
        and not (file.mime_type or "").startswith("image/")
    )


@contextlib.asynccontextmanager
async def _heartbeating(progress_file: Path) -> AsyncIterator[None]:
    """Heartbeat for the whole attempt (store, engine, upload), with the engine's progress.

    A worker that dies is then noticed within the heartbeat timeout whatever the attempt
    was doing, and a cancelled job reaches the attempt at its next heartbeat.
    """

    async def beat() -> None:
        while True:
            activity.heartbeat(read_progress(str(progress_file)))
            await asyncio.sleep(HEARTBEAT_EVERY_SECONDS)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class ItemActivities:
    """Processing of one item, with the store, blob storage and engine pool injected."""

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        pool: EnginePool,
        engine: Engine,
        settings: Settings,
        *,
        job_cache_size: int = 256,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._pool = pool
        self._engine = engine
        self._settings = settings
        self._progress_dir = settings.data_dir / "progress"
        self._jobs: OrderedDict[str, _JobContext] = OrderedDict()
        self._job_cache_size = job_cache_size
        # Items of a busy worker start and finish many at a time: one transaction each
        # for all that arrive together (see docbatch.store.batching).
        self._progress_dir_ready = False
        self._handed_over: dict[ItemKey, asyncio.Task[EngineResult]] = {}
        self._starts = GroupCommit(self._start_many)
        self._completions = GroupCommit(self._complete_many)
        self._cancels = GroupCommit(self._cancel_many)

    async def _start_many(self, keys: Sequence[ItemKey]) -> list[_Started | None]:
        started = await self._store.start_items(keys)
        return [started.get(key) for key in keys]

    async def _cancel_many(self, keys: Sequence[ItemKey]) -> list[bool]:
        moved = await self._store.cancel_items(keys)
        return [key in moved for key in keys]

    async def _complete_many(self, completions: Sequence[_Completion]) -> list[bool]:
        moved = await self._store.complete_items(completions)
        return [(job_id, item_id) in moved for job_id, item_id, _ in completions]

    async def _job(self, job_id: str) -> _JobContext:
        # Job configs never change once created, so each worker reads one once.
        context = self._jobs.get(job_id)
        if context is None:
            job = await _patiently(lambda: self._store.get_job(job_id))
            config = load_job_config(job.config_json)
            parameters = parse_parameters_of(config)
            context = _JobContext(
                job_type=JobType(job.job_type),
                parameters_hash=job.parameters_hash,
                config=engine_config(config),
                timeout_seconds=(
                    parameters.job_timeout_in_seconds or self._settings.default_job_timeout_seconds
                ),
                extra_seconds_per_page=parameters.job_timeout_extra_time_per_page_in_seconds or 0.0,
                output_destination=(
                    parameters.output_s3_path_prefix or self._settings.output_s3_prefix
                ),
                local_engine=not uses_llm(config),
            )
            self._jobs[job_id] = context
            while len(self._jobs) > self._job_cache_size:
                self._jobs.popitem(last=False)
        self._jobs.move_to_end(job_id)
        return context

    @activity.defn
    async def process_item(self, request: ItemInput) -> ItemOutcome:
        """Run the job's engine on the item's file, store the output, record the result.

        The durable path: a regular activity that heartbeats for its whole attempt and has
        the document's full time limit. A document that cannot be processed is recorded as
        failed and raised as a non-retryable ``DocumentError``; anything else is raised
        and retried.
        """
        async with _heartbeating(self._progress_file(request)):
            return await self._process(request)

    @activity.defn
    async def process_item_now(self, request: ItemInput) -> ItemOutcome:
        """The quick path, run as a local activity inside the item's first workflow task.

        Most documents take a fraction of a second: for them a regular activity's three
        history events, task-queue round trip and second workflow task cost more than the
        work. When an engine process is (nearly) free, process the document here with a
        short engine budget; otherwise, or when the budget runs out, leave the item open
        (status ``pending``/``processing``) for ``process_item``, which has the full
        limit, heartbeats and retries.
        """
        if self._pool.expected_wait() > QUICK_MAX_WAIT_SECONDS:
            return ItemOutcome(item_id=request.item_id, status=ItemStatus.PENDING)
        reservation = self._pool.reserve()
        try:
            return await self._process(
                request, budget=QUICK_ENGINE_SECONDS, reservation=reservation
            )
        finally:
            reservation.release()

    def _progress_file(self, request: ItemInput) -> Path:
        return self._progress_dir / f"{request.job_id}-{request.item_id}.json"

    async def _ensure_progress_dir(self) -> None:
        if not self._progress_dir_ready:
            await asyncio.to_thread(self._progress_dir.mkdir, parents=True, exist_ok=True)
            self._progress_dir_ready = True

    def _start_engine(
        self,
        job: _JobContext,
        request: EngineRequest,
        *,
        limit: float,
        size: int,
        reservation: Reservation | None,
        slot_taken: asyncio.Event,
    ) -> asyncio.Task[EngineResult]:
        """Run the engine in the pool as a task (one a quick attempt can hand over)."""
        started = time.monotonic()
        run = asyncio.create_task(
            self._pool.run(
                self._engine,
                request,
                timeout=limit,
                reservation=reservation,
                started=slot_taken,
            )
        )

        def measured(done: asyncio.Task[EngineResult]) -> None:
            if not done.cancelled() and done.exception() is None:
                metrics.engine_ran(job.job_type, time.monotonic() - started, size)

        run.add_done_callback(measured)
        return run

    def _hand_over(self, key: ItemKey, run: asyncio.Task[EngineResult]) -> None:
        """Keep a quick attempt's engine run for the item's durable attempt to adopt.

        On another worker the durable attempt starts afresh; this run then ends unclaimed
        (at the latest at its time limit) and is forgotten a grace period later.
        """
        self._handed_over[key] = run

        def forget() -> None:
            if self._handed_over.get(key) is run:
                del self._handed_over[key]

        run.add_done_callback(
            lambda _: asyncio.get_running_loop().call_later(HANDOVER_GRACE_SECONDS, forget)
        )

    async def _process(
        self,
        request: ItemInput,
        *,
        budget: float | None = None,
        reservation: Reservation | None = None,
    ) -> ItemOutcome:
        started = await _patiently(lambda: self._starts.submit((request.job_id, request.item_id)))
        if started is None:
            raise ApplicationError(
                f"item {request.item_id} of job {request.job_id} not found",
                type=DOCUMENT_ERROR_TYPE,
                non_retryable=True,
            )
        status, file = started
        if status.is_terminal:
            # A retry after the result was recorded, or the job was cancelled meanwhile.
            return ItemOutcome(item_id=request.item_id, status=status)
        job = await self._job(request.job_id)
        key = (request.job_id, request.item_id)
        progress_file = self._progress_file(request)
        limit, pages = job.timeout_seconds, 0
        handed_over = False
        try:
            if file is None:
                raise NotFoundError(f"file {request.item_id} not found")
            path = self._blobs.local_path(file.storage_location)
            if not path.is_file():  # one stat: not worth a thread hop
                raise DocumentError(f"file not found: {file.path} is no longer at {path}")
            if budget is not None and not _suits_quick_path(job, file):
                return ItemOutcome(item_id=request.item_id, status=ItemStatus.PROCESSING)
            limit, pages = await self._time_limit(job, path, file.path)
            await self._ensure_progress_dir()
            # A quick attempt that ran out of budget left its engine at work: adopt it.
            engine_run = self._handed_over.pop(key, None)
            slot_taken = asyncio.Event()
            if engine_run is None:
                engine_run = self._start_engine(
                    job,
                    EngineRequest(
                        path=str(path),
                        file_name=file.path,
                        job_type=job.job_type.value,
                        config=job.config,
                        mime_type=file.mime_type,
                        options=self._engine_options(),
                        progress_file=str(progress_file),
                    ),
                    limit=limit,
                    size=file.size,
                    reservation=reservation,
                    slot_taken=slot_taken,
                )
            if budget is not None:
                # The budget is engine time: it starts once a process takes the document.
                try:
                    await asyncio.wait_for(slot_taken.wait(), QUICK_MAX_SLOT_WAIT_SECONDS)
                    await asyncio.wait({engine_run}, timeout=budget)
                except TimeoutError:
                    pass
                except asyncio.CancelledError:
                    engine_run.cancel()
                    raise
                if not engine_run.done():
                    # Longer than the quick path allows: the durable path takes it from
                    # here, and on this worker picks up this very engine run.
                    self._hand_over(key, engine_run)
                    handed_over = True
                    return ItemOutcome(item_id=request.item_id, status=ItemStatus.PROCESSING)
            result = await engine_run
        except EngineTimeoutError as exc:
            pages_note = f", {pages} pages" if pages else ""
            message = f"timed out after {limit:g}s{pages_note} (job_timeout_in_seconds)"
            await _patiently(
                lambda: self._store.fail_item(request.job_id, request.item_id, message)
            )
            raise ApplicationError(message, type=DOCUMENT_ERROR_TYPE, non_retryable=True) from exc
        except (DocumentError, ConfigError, NotFoundError) as exc:
            message = str(exc)
            await _patiently(
                lambda: self._store.fail_item(request.job_id, request.item_id, message)
            )
            raise ApplicationError(message, type=DOCUMENT_ERROR_TYPE, non_retryable=True) from exc
        finally:
            if not handed_over:
                await asyncio.to_thread(progress_file.unlink, missing_ok=True)

        # Deterministic per (item, content, parameters): a retry overwrites, never adds.
        output_key = (
            f"results/{request.item_id}/"
            f"{file.content_hash[:16]}-{job.parameters_hash[:16]}.{result.extension}"
        )
        location = await self._blobs.put_output(
            output_key, result.content.encode(), destination=job.output_destination
        )
        metadata = {
            **result.metadata,
            "content_type": result.content_type,
            "file_name": file.path,
            "size_bytes": file.size,
        }
        completed = await _patiently(
            lambda: self._completions.submit(
                (
                    request.job_id,
                    request.item_id,
                    ResultSpec(
                        result_id=result_id_for(request.job_id, request.item_id),
                        job_type=job.job_type,
                        parameters_hash=job.parameters_hash,
                        content_hash=file.content_hash,
                        output_location=location,
                        output_metadata=json.loads(json.dumps(metadata, default=str)),
                    ),
                )
            )
        )
        if completed:
            return ItemOutcome(item_id=request.item_id, status=ItemStatus.COMPLETED)
        final = await _patiently(lambda: self._store.get_item(request.job_id, request.item_id))
        return ItemOutcome(item_id=request.item_id, status=ItemStatus(final.status))

    async def _time_limit(self, job: _JobContext, path: Path, name: str) -> tuple[float, int]:
        """The reference's limit: a base time plus extra time per page of the document."""
        if not job.extra_seconds_per_page:
            return job.timeout_seconds, 0
        pages = await asyncio.to_thread(count_pages, str(path), name, config=job.config) or 0
        return job.timeout_seconds + job.extra_seconds_per_page * pages, pages

    def _engine_options(self) -> dict[str, Any]:
        llm = self._settings.llm_options
        return {"llm": llm} if llm else {}

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
        await self._cancels.submit((request.job_id, request.item_id))
        final = await self._store.get_item(request.job_id, request.item_id)
        return ItemOutcome(item_id=request.item_id, status=ItemStatus(final.status))

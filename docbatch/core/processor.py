"""Processing one item of a job: start it, run the engine, store the output, record it.

``ItemProcessor`` is the whole of it and knows nothing of Temporal: the item activities
call it and translate its answers (an item's status, or ``ItemFailedError`` for a
document that cannot be processed, already recorded as failed). Two ways through:

- the **durable** one (``process``): the document's full time limit;
- the **quick** one (``process_quick``): when an engine process is (nearly) free, a
  short engine budget for the small documents that are most of a batch. A document
  that outgrows the budget is handed over — its engine run keeps going and the
  durable attempt on this worker adopts it — and the item stays open.

A store outage is not the document's fault: store calls are retried within the attempt
(``_patiently``) instead of spending the attempts the engine's retry policy allows.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError

from docbatch import metrics
from docbatch.blobs import BlobStore
from docbatch.core.plan import JobPlan
from docbatch.engines.base import Engine, EngineRequest, EngineResult
from docbatch.engines.parse import count_pages
from docbatch.engines.pool import EnginePool, EngineTimeoutError, Reservation
from docbatch.errors import ConfigError, DocumentError, NotFoundError
from docbatch.ids import result_id_for
from docbatch.models import ItemStatus
from docbatch.settings import Settings
from docbatch.store import ItemKey, ResultSpec, Store
from docbatch.store.batching import GroupCommit
from docbatch.store.tables import FileRow

log = structlog.get_logger("docbatch.processor")

QUICK_MAX_WAIT_SECONDS = 1.0
"""The quick path is taken only when an engine process should be free within this (an
item that finds the engines busier queues for the durable path, and the job's window of
children narrows)."""
QUICK_MAX_SLOT_WAIT_SECONDS = 2.0
"""A quick attempt whose document still waits for a process after this hands it over."""
QUICK_ENGINE_SECONDS = 3.0
"""Engine time the quick path allows a document: with the wait, well below the workflow
task's 10 s timeout, so a quick attempt never needs a workflow task heartbeat."""
QUICK_MAX_BYTES = 2 * 1024 * 1024
"""Larger files go straight to the durable path."""
HANDOVER_GRACE_SECONDS = 300.0
"""How long a finished engine run handed over by a quick attempt waits to be adopted."""

STORE_RETRY_INITIAL_SECONDS = 0.5
STORE_RETRY_MAX_SECONDS = 10.0

_T = TypeVar("_T")
_Started = tuple[ItemStatus, FileRow | None]
_Completion = tuple[str, str, ResultSpec]


class ItemFailedError(Exception):
    """The document cannot be processed (never worth another attempt); the item, if it
    exists, is recorded as failed."""


async def _patiently(call: Callable[[], Awaitable[_T]]) -> _T:
    """A store call, retried while the database is unavailable (see the module doc)."""
    delay = STORE_RETRY_INITIAL_SECONDS
    while True:
        try:
            return await call()
        except (OperationalError, InterfaceError) as exc:
            log.warning("store unavailable, retrying", retry_in_seconds=delay, error=str(exc.orig))
            await asyncio.sleep(delay)
            delay = min(2 * delay, STORE_RETRY_MAX_SECONDS)


def suits_quick_path(plan: JobPlan, file: FileRow) -> bool:
    """Whether the document is likely done within the quick path's budget.

    A document stopped at the budget costs its engine process a restart, so the likely
    slow ones (large files, images that need OCR, LLM calls) skip straight to the
    durable path.
    """
    return (
        not plan.uses_llm
        and file.size <= QUICK_MAX_BYTES
        and not (file.mime_type or "").startswith("image/")
    )


class ItemProcessor:
    """One worker's processing of items, with the store, blobs and engine pool injected.

    Items of a busy worker start and finish many at a time: one transaction each for all
    that arrive together (see ``docbatch.store.batching``).
    """

    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        pool: EnginePool,
        engine: Engine,
        settings: Settings,
        *,
        plan_cache_size: int = 256,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._pool = pool
        self._engine = engine
        self._settings = settings
        self._progress_dir = settings.data_dir / "progress"
        self._progress_dir_ready = False
        self._plans: OrderedDict[str, JobPlan] = OrderedDict()
        self._plan_cache_size = plan_cache_size
        self._handed_over: dict[ItemKey, asyncio.Task[EngineResult]] = {}
        self._starts = GroupCommit(self._start_many)
        self._completions = GroupCommit(self._complete_many)
        self._cancels = GroupCommit(self._cancel_many)

    # ------------------------------------------------------------------ processing

    def progress_file(self, job_id: str, item_id: str) -> Path:
        """Where the engine reports its progress on the item (read by heartbeats)."""
        return self._progress_dir / f"{job_id}-{item_id}.json"

    async def process(self, job_id: str, item_id: str) -> ItemStatus:
        """Process the item with the document's full time limit; its status after.

        Raises ``ItemFailedError`` for a document that cannot be processed (recorded as
        failed); anything else raised is worth another attempt.
        """
        return await self._process(job_id, item_id)

    async def process_quick(self, job_id: str, item_id: str) -> ItemStatus:
        """Process the item if it fits the quick path's budget; otherwise leave it open.

        Answers ``pending`` when no engine process is free soon and ``processing`` when
        the document does not suit the quick path or outgrew its budget (its engine run
        is then handed over to the item's durable attempt).
        """
        if self._pool.expected_wait() > QUICK_MAX_WAIT_SECONDS:
            return ItemStatus.PENDING
        reservation = self._pool.reserve()
        try:
            return await self._process(
                job_id, item_id, budget=QUICK_ENGINE_SECONDS, reservation=reservation
            )
        finally:
            reservation.release()

    async def _process(
        self,
        job_id: str,
        item_id: str,
        *,
        budget: float | None = None,
        reservation: Reservation | None = None,
    ) -> ItemStatus:
        key = (job_id, item_id)
        started = await _patiently(lambda: self._starts.submit(key))
        if started is None:
            raise ItemFailedError(f"item {item_id} of job {job_id} not found")
        status, file = started
        if status.is_terminal:
            # A retry after the result was recorded, or the job was cancelled meanwhile.
            return status
        plan = await self.plan(job_id)
        try:
            if file is None:
                raise NotFoundError(f"file {item_id} not found")
            path = self._blobs.local_path(file.storage_location)
            if not path.is_file():  # one stat: not worth a thread hop
                raise DocumentError(f"file not found: {file.path} is no longer at {path}")
            if budget is not None and not suits_quick_path(plan, file):
                return ItemStatus.PROCESSING
            result = await self._run_engine(key, plan, file, path, budget, reservation)
        except (DocumentError, ConfigError, NotFoundError) as exc:
            await self._fail(key, str(exc))
        if result is None:
            return ItemStatus.PROCESSING
        return await self._record(key, plan, file, result)

    async def _run_engine(
        self,
        key: ItemKey,
        plan: JobPlan,
        file: FileRow,
        path: Path,
        budget: float | None,
        reservation: Reservation | None,
    ) -> EngineResult | None:
        """The engine's result on the document, or ``None`` once a quick attempt handed
        its run over."""
        pages = 0
        if plan.extra_seconds_per_page:
            counted = await asyncio.to_thread(
                count_pages, str(path), file.path, config=plan.engine_config
            )
            pages = counted or 0
        limit = plan.time_limit(pages)
        progress_file = self.progress_file(*key)
        await self._ensure_progress_dir()
        # A quick attempt that ran out of budget left its engine at work: adopt it.
        run = self._handed_over.pop(key, None)
        slot_taken = asyncio.Event()
        if run is None:
            request = EngineRequest(
                path=str(path),
                file_name=file.path,
                job_type=plan.job_type.value,
                config=plan.engine_config,
                mime_type=file.mime_type,
                options=self._engine_options(),
                progress_file=str(progress_file),
            )
            run = self._start_engine(plan, request, limit, file.size, reservation, slot_taken)
        handed_over = False
        try:
            if budget is not None:
                handed_over = await self._within_budget(key, run, slot_taken, budget)
                if handed_over:
                    return None
            return await run
        except EngineTimeoutError:
            pages_note = f", {pages} pages" if pages else ""
            raise DocumentError(
                f"timed out after {limit:g}s{pages_note} (job_timeout_in_seconds)"
            ) from None
        finally:
            if not handed_over:
                progress_file.unlink(missing_ok=True)  # one syscall: not worth a thread hop

    async def _within_budget(
        self,
        key: ItemKey,
        run: asyncio.Task[EngineResult],
        slot_taken: asyncio.Event,
        budget: float,
    ) -> bool:
        """Wait for a quick attempt's engine run; hand it over (``True``) if it outgrows
        the budget, which is engine time: it starts once a process takes the document."""
        try:
            await asyncio.wait_for(slot_taken.wait(), QUICK_MAX_SLOT_WAIT_SECONDS)
            await asyncio.wait({run}, timeout=budget)
        except TimeoutError:
            pass
        except asyncio.CancelledError:
            run.cancel()
            raise
        if run.done():
            return False
        self._hand_over(key, run)
        return True

    def _start_engine(
        self,
        plan: JobPlan,
        request: EngineRequest,
        limit: float,
        size: int,
        reservation: Reservation | None,
        slot_taken: asyncio.Event,
    ) -> asyncio.Task[EngineResult]:
        """Run the engine in the pool as a task (one a quick attempt can hand over)."""
        started = time.monotonic()
        run = asyncio.create_task(
            self._pool.run(
                self._engine, request, timeout=limit, reservation=reservation, started=slot_taken
            )
        )

        def measured(done: asyncio.Task[EngineResult]) -> None:
            if not done.cancelled() and done.exception() is None:
                metrics.engine_ran(plan.job_type, time.monotonic() - started, size)

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

    async def _record(
        self, key: ItemKey, plan: JobPlan, file: FileRow, result: EngineResult
    ) -> ItemStatus:
        """Store the output and record the item completed; its status after."""
        job_id, item_id = key
        # Deterministic per (item, content, parameters): a retry overwrites, never adds.
        output_key = (
            f"results/{item_id}/"
            f"{file.content_hash[:16]}-{plan.parameters_hash[:16]}.{result.extension}"
        )
        location = await self._blobs.put_output(
            output_key, result.content.encode(), destination=plan.output_destination
        )
        metadata = {
            **result.metadata,
            "content_type": result.content_type,
            "file_name": file.path,
            "size_bytes": file.size,
        }
        spec = ResultSpec(
            result_id=result_id_for(job_id, item_id),
            job_type=plan.job_type,
            parameters_hash=plan.parameters_hash,
            content_hash=file.content_hash,
            output_location=location,
            output_metadata=json.loads(json.dumps(metadata, default=str)),
        )
        if await _patiently(lambda: self._completions.submit((job_id, item_id, spec))):
            return ItemStatus.COMPLETED
        return await self._status(key)

    async def _fail(self, key: ItemKey, message: str) -> NoReturn:
        await _patiently(lambda: self._store.items.fail_item(*key, message))
        raise ItemFailedError(message)

    # -------------------------------------------------------------- other endings

    async def record_failure(
        self, job_id: str, item_id: str, message: str
    ) -> tuple[ItemStatus, str | None]:
        """Mark the item failed after its processing gave up; its status and error after."""
        await self._store.items.fail_item(job_id, item_id, message)
        final = await self._store.items.get_item(job_id, item_id)
        return ItemStatus(final.status), final.error_message

    async def record_cancelled(self, job_id: str, item_id: str) -> ItemStatus:
        """Mark the item cancelled unless it already ended (finished outputs are kept)."""
        await self._cancels.submit((job_id, item_id))
        return await self._status((job_id, item_id))

    # --------------------------------------------------------------------- helpers

    async def plan(self, job_id: str) -> JobPlan:
        """The job's plan, read once per worker (plans never change)."""
        plan = self._plans.get(job_id)
        if plan is None:
            job = await _patiently(lambda: self._store.jobs.get_job(job_id))
            plan = JobPlan.of_job(job, self._settings)
            self._plans[job_id] = plan
            while len(self._plans) > self._plan_cache_size:
                self._plans.popitem(last=False)
        self._plans.move_to_end(job_id)
        return plan

    async def _status(self, key: ItemKey) -> ItemStatus:
        final = await _patiently(lambda: self._store.items.get_item(*key))
        return ItemStatus(final.status)

    async def _ensure_progress_dir(self) -> None:
        if not self._progress_dir_ready:
            await asyncio.to_thread(self._progress_dir.mkdir, parents=True, exist_ok=True)
            self._progress_dir_ready = True

    def _engine_options(self) -> dict[str, Any]:
        llm = self._settings.llm_options
        return {"llm": llm} if llm else {}

    async def _start_many(self, keys: Sequence[ItemKey]) -> list[_Started | None]:
        started = await self._store.items.start_items(keys)
        return [started.get(key) for key in keys]

    async def _cancel_many(self, keys: Sequence[ItemKey]) -> list[bool]:
        moved = await self._store.items.cancel_items(keys)
        return [key in moved for key in keys]

    async def _complete_many(self, completions: Sequence[_Completion]) -> list[bool]:
        moved = await self._store.items.complete_items(completions)
        return [(job_id, item_id) in moved for job_id, item_id, _ in completions]

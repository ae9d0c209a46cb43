"""Activities of the item workflow: adapters of ``docbatch.core.ItemProcessor``.

They translate the workflow's messages to processor calls and back, heartbeat for the
whole durable attempt, and turn a document that cannot be processed into a
non-retryable ``DocumentError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio import activity
from temporalio.exceptions import ApplicationError

from docbatch.core.processor import ItemFailedError, ItemProcessor
from docbatch.engines.base import read_progress
from docbatch.messages import ItemFailureInput, ItemInput, ItemOutcome

DOCUMENT_ERROR_TYPE = "DocumentError"
"""``ApplicationError.type`` of a document that cannot be processed (never retried)."""
HEARTBEAT_EVERY_SECONDS = 2.0


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
    """Processing of one item, through the worker's ``ItemProcessor``."""

    def __init__(self, processor: ItemProcessor) -> None:
        self._processor = processor

    @activity.defn
    async def process_item(self, request: ItemInput) -> ItemOutcome:
        """The durable path: a regular activity that heartbeats for its whole attempt and
        has the document's full time limit; retried unless the document is at fault."""
        progress_file = self._processor.progress_file(request.job_id, request.item_id)
        async with _heartbeating(progress_file):
            try:
                status = await self._processor.process(request.job_id, request.item_id)
            except ItemFailedError as exc:
                raise _document_error(exc) from exc
        return ItemOutcome(item_id=request.item_id, status=status)

    @activity.defn
    async def process_item_now(self, request: ItemInput) -> ItemOutcome:
        """The quick path, run as a local activity inside the item's first workflow task.

        Most documents take a fraction of a second: for them a regular activity's three
        history events, task-queue round trip and second workflow task cost more than the
        work. An item this leaves open (``pending``/``processing``) goes on to
        ``process_item``, which has the full limit, heartbeats and retries.
        """
        try:
            status = await self._processor.process_quick(request.job_id, request.item_id)
        except ItemFailedError as exc:
            raise _document_error(exc) from exc
        return ItemOutcome(item_id=request.item_id, status=status)

    @activity.defn
    async def record_item_failure(self, request: ItemFailureInput) -> ItemOutcome:
        """Mark an item failed after its processing gave up (retries exhausted, timeout)."""
        status, error = await self._processor.record_failure(
            request.job_id, request.item_id, request.error_message
        )
        return ItemOutcome(item_id=request.item_id, status=status, error_message=error)

    @activity.defn
    async def record_item_cancelled(self, request: ItemInput) -> ItemOutcome:
        """Mark an item cancelled unless it already ended (finished outputs are kept)."""
        status = await self._processor.record_cancelled(request.job_id, request.item_id)
        return ItemOutcome(item_id=request.item_id, status=status)


def _document_error(exc: ItemFailedError) -> ApplicationError:
    return ApplicationError(str(exc), type=DOCUMENT_ERROR_TYPE, non_retryable=True)

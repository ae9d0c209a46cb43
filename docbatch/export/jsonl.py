"""A job's results as JSON lines, for ``GET …/{job_id}/results.jsonl``: one line per item
with its output inline or a reference to it, streamed in bounded chunks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any

from docbatch.blobs import BlobStore
from docbatch.errors import DocbatchError, TooLargeError
from docbatch.export.reading import (
    PAGE_SIZE,
    READ_WINDOW,
    ItemResult,
    Read,
    inline_content,
    iter_item_results,
    read_outputs,
    windows,
)
from docbatch.models import ItemStatus, JobType
from docbatch.store import Store
from docbatch.store.tables import JobRow

INLINE_LIMIT_BYTES = 1 << 20
"""``content=auto`` inlines outputs up to this size and references larger ones."""
_CHUNK_BYTES = 64 * 1024


class ContentMode(StrEnum):
    """How ``results.jsonl`` gives each output."""

    AUTO = "auto"
    """Inline up to ``INLINE_LIMIT_BYTES``, a reference beyond."""
    INLINE = "inline"
    REFERENCE = "reference"


def processing_results_path(item_id: str) -> str:
    """The API path of an item's processing results."""
    return f"/api/v1/beta/batch-processing/items/{item_id}/processing-results"


def _content(job_type: JobType, read: Read) -> tuple[Any, str | None]:
    """``(the inline content or None, why it is not inline when it was wanted)``."""
    if read is None:
        return None, None
    if isinstance(read, TooLargeError):
        return None, f"not inline: {read} (content=auto); read it from output_s3_path"
    if isinstance(read, DocbatchError):
        return None, f"output not readable: {read}"
    return inline_content(job_type, read), None


def result_line(entry: ItemResult, job: JobRow, read: Read) -> dict[str, Any]:
    """One item's line of ``results.jsonl``; ``read``: its output's bytes (or why not)."""
    item, result = entry.item, entry.result
    content, content_error = _content(JobType(job.job_type), read)
    return {
        "item_id": item.item_id,
        "item_name": item.item_name,
        "status": item.status,
        "error_message": item.error_message,
        "skip_reason": item.skip_reason,
        "parameters_hash": result.parameters_hash if result else job.parameters_hash,
        "result_id": result.result_id if result else None,
        "output_s3_path": result.output_location if result else None,
        "processing_results_path": processing_results_path(item.item_id) if result else None,
        "content": content,
        "content_error": content_error,
    }


async def result_lines(
    store: Store,
    blobs: BlobStore,
    job: JobRow,
    *,
    mode: ContentMode = ContentMode.AUTO,
    status: ItemStatus | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[bytes]:
    """The job's items as JSON lines, in chunks of about 64 KiB (never the whole body).

    The outputs of ``READ_WINDOW`` items are read together (one thread hop for local
    blobs), so at most that many outputs are held at a time.
    """
    chunk: list[bytes] = []
    size = 0
    entries = iter_item_results(store, job.id, status=status, page_size=page_size)
    async for window in windows(entries, READ_WINDOW):
        outputs: list[Read] = [None] * len(window)
        if mode != ContentMode.REFERENCE:
            limit = INLINE_LIMIT_BYTES if mode == ContentMode.AUTO else None
            outputs = await read_outputs(blobs, window, max_bytes=limit)
        for entry, read in zip(window, outputs, strict=True):
            line = json.dumps(result_line(entry, job, read), ensure_ascii=False)
            encoded = line.encode() + b"\n"
            chunk.append(encoded)
            size += len(encoded)
        if size >= _CHUNK_BYTES:
            yield b"".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield b"".join(chunk)

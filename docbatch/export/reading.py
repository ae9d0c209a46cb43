"""Reading a job's results back: its items with their results, page by page, and their
outputs a window at a time, rendered as files or as JSON values."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from docbatch.blobs import BlobStore
from docbatch.errors import DocbatchError
from docbatch.models import ItemStatus, JobType
from docbatch.store import Store
from docbatch.store.tables import JobItemRow, ProcessingResultRow

PAGE_SIZE = 500
"""Items read from the store per query."""
READ_WINDOW = 16
"""Outputs read together (one thread hop for local blobs), and the most held at a time."""


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item of a job and the result it points at (None: failed, pending, …)."""

    item: JobItemRow
    result: ProcessingResultRow | None


async def iter_item_results(
    store: Store,
    job_id: str,
    *,
    status: ItemStatus | None = None,
    ended_since: datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[ItemResult]:
    """A job's items in listing order with their results, ``page_size`` per query."""
    after = 0
    while True:
        page = await store.items.item_results_page(
            job_id, after=after, limit=page_size, status=status, ended_since=ended_since
        )
        for item, result in page:
            yield ItemResult(item, result)
        if len(page) < page_size:
            return
        after = page[-1][0].ordinal


async def windows(entries: AsyncIterator[ItemResult], size: int) -> AsyncIterator[list[ItemResult]]:
    """``entries`` in lists of ``size`` (the last one shorter)."""
    window: list[ItemResult] = []
    async for entry in entries:
        window.append(entry)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window


Read = bytes | DocbatchError | None
"""An item's output as read: its bytes, why they could not be read, or None (no output)."""


async def read_outputs(
    blobs: BlobStore, window: list[ItemResult], *, max_bytes: int | None = None
) -> list[Read]:
    """The outputs of a window of items, read together (one thread hop for local blobs)."""
    wanted = [
        (index, entry.result.output_location)
        for index, entry in enumerate(window)
        if entry.result is not None
    ]
    read = await blobs.read_many([location for _, location in wanted], max_bytes=max_bytes)
    outputs: list[Read] = [None] * len(window)
    for (index, _), value in zip(wanted, read, strict=True):
        outputs[index] = value
    return outputs


def _parse_document(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def render_output(job_type: JobType, raw: bytes) -> bytes:
    """The file a stored output becomes: the markdown of a parse, else indented JSON.

    An output that is not what its job type produces is written as it is stored.
    """
    document = _parse_document(raw)
    if job_type == JobType.PARSE:
        if isinstance(document, dict) and isinstance(document.get("markdown"), str):
            return str(document["markdown"]).encode()
        return raw
    if document is None:
        return raw
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def inline_content(job_type: JobType, raw: bytes) -> Any:
    """A stored output as a JSON value: a parse's markdown, the JSON of the others.

    An output that is not what its job type produces is given as its text.
    """
    document = _parse_document(raw)
    if job_type == JobType.PARSE:
        if isinstance(document, dict) and isinstance(document.get("markdown"), str):
            return document["markdown"]
        return raw.decode(errors="replace")
    return document if document is not None else raw.decode(errors="replace")

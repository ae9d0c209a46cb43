"""Which listed items need no work: the skip policy of a job's pages, as pure functions.

A pending item is skipped when its file is over the job's size limit
(``size_limit_exceeded``), or when a file with the same content was already processed
with the same job type and parameters hash (``already_processed``, served from that
result) unless the job invalidates the cache. The store asks for the processed contents
(``candidate_hashes``) and applies the decision (``decide``) in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from docbatch.models import ItemStatus, SkipReason


@dataclass(frozen=True, slots=True)
class ListedFile:
    """An item of a listed page as the policy sees it."""

    item_id: str
    status: str
    size: int | None
    content_hash: str | None


Skips = dict[str, tuple[SkipReason, str | None]]
"""Item id → why it is skipped and, when served from an earlier result, that result."""


def _open(file: ListedFile) -> bool:
    return file.status == ItemStatus.PENDING.value


def oversized(files: Iterable[ListedFile], max_file_size_bytes: int) -> Skips:
    """Pending items whose file is over the size limit."""
    return {
        f.item_id: (SkipReason.SIZE_LIMIT_EXCEEDED, None)
        for f in files
        if _open(f) and f.size is not None and f.size > max_file_size_bytes
    }


def candidate_hashes(
    files: Iterable[ListedFile], *, max_file_size_bytes: int, invalidate_cache: bool
) -> set[str]:
    """Contents worth looking up among earlier results: of pending items within the size
    limit (none when the job invalidates the cache)."""
    if invalidate_cache:
        return set()
    listed = list(files)
    too_big = oversized(listed, max_file_size_bytes)
    return {
        f.content_hash for f in listed if _open(f) and f.item_id not in too_big and f.content_hash
    }


def decide(
    files: Iterable[ListedFile],
    *,
    max_file_size_bytes: int,
    invalidate_cache: bool,
    processed: Mapping[str, str],
) -> Skips:
    """Every skip of a page: oversized files first, then contents ``processed`` already
    (content hash → the earliest result), unless the job invalidates the cache."""
    listed = list(files)
    skips = oversized(listed, max_file_size_bytes)
    if invalidate_cache:
        return skips
    for f in listed:
        earlier = processed.get(f.content_hash) if f.content_hash else None
        if earlier is not None and f.item_id not in skips and _open(f):
            skips[f.item_id] = (SkipReason.ALREADY_PROCESSED, earlier)
    return skips

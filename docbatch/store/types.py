"""The store's value types: what its repositories take and return.

Importable from ``docbatch.store`` (and, for older imports, ``docbatch.store.repository``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from docbatch.models import ItemStatus, JobStatus, JobType
from docbatch.store.tables import JobRow

ItemKey = tuple[str, str]
"""A job item: (job id, item id)."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FileSpec:
    """A file to register in a directory (from a local folder or an upload)."""

    path: str
    size: int
    content_hash: str
    storage_location: str
    mime_type: str | None = None
    mtime_ns: int | None = None
    display_name: str | None = None
    external_file_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ResultSpec:
    """The output of one processed item."""

    result_id: str
    job_type: JobType
    parameters_hash: str
    content_hash: str
    output_location: str
    output_metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JobStart:
    """A job as its first run starts it (running, its files counted)."""

    job: JobRow
    already_terminal: JobStatus | None = None
    """Set when the job had already ended: nothing is started."""


@dataclass(frozen=True, slots=True)
class ListedPage:
    """A page of a job's items: those needing work, and what the page skipped."""

    item_ids: list[str]
    item_names: list[str]
    """Names of ``item_ids`` (same order)."""
    skipped: int
    listed: int
    next_cursor: int
    exhausted: bool


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A job event recorded for delivery."""

    event_id: str
    job_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SyncStats:
    """What a directory sync changed."""

    added: int
    changed: int
    unchanged: int
    removed: int


class ItemObserver(Protocol):
    """Told of items that ended, once their transaction has committed.

    ``count`` items of a job type ended with ``status`` (completed, failed, skipped or
    cancelled); only items that really moved are reported, so the counts add up to the
    jobs' own counters. An observer that raises is logged and ignored: it never fails
    the store call. ``docbatch.metrics.item_ended`` is the worker's.
    """

    def __call__(self, job_type: str, status: ItemStatus, count: int, /) -> None: ...

"""The SQL store: directories, files, jobs, job items and processing results."""

from docbatch.store.repository import Store
from docbatch.store.types import (
    FileSpec,
    ItemKey,
    ItemObserver,
    JobStart,
    ListedPage,
    ResultSpec,
    SyncStats,
    WebhookEvent,
    utcnow,
)

__all__ = [
    "FileSpec",
    "ItemKey",
    "ItemObserver",
    "JobStart",
    "ListedPage",
    "ResultSpec",
    "Store",
    "SyncStats",
    "WebhookEvent",
    "utcnow",
]
